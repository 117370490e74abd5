"""Pure pricing domain: value types and functions, no I/O, no clock, no randomness."""
