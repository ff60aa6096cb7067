"""Quietline protocol: pure functions, no I/O. Formats are specified in docs/PROTOCOL.md."""
