"""Passwords: hashing, the policy a new one must meet, change and reset."""
