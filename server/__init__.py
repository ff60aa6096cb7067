"""Quietline server: stores ciphertext and anonymous case indexes, never opens either.

Formats are checked with `crypto/` (framing and signatures only); nothing is decrypted here.
"""
