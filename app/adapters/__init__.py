"""Adapters: what the use cases reach outside the process through (payments, the cache, the rules
engine's compiled programs, quote signing, customer masking)."""
