"""Transports: decode, call one use case, encode."""
