"""Benchmarks, each a package run with `python -m bench.<name>` from the repository root."""
