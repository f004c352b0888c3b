"""SQL of the generated columns that full-text and trigram search read."""

from __future__ import annotations


def search_text_sql(*columns: str) -> str:
    """Lowercased text of the columns, space-separated (immutable, so it can be generated)."""
    return "lower(" + " || ' ' || ".join(f"coalesce({c}, '')" for c in columns) + ")"


def search_vector_sql(*columns: str) -> str:
    """A 'simple' (no stemming, no stop words: names are not prose) tsvector of the columns."""
    return f"to_tsvector('simple', {search_text_sql(*columns)})"
