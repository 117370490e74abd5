"""Tenant rulesets and their evaluation (see the rules issue). Nothing outside this package
imports durable-rules."""
