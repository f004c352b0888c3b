"""Merging duplicate contacts or companies into a survivor, and the pointers left behind."""
