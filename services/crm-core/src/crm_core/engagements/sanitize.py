"""Note bodies: HTML in, only an allow-list of formatting out (nh3, i.e. Ammonia).

Notes are stored as sanitized HTML, never as what the client sent: scripts, styles,
event handler attributes, `javascript:`/`data:` URLs and unknown tags are dropped
before the row is written, so every reader (the API, exports, a web view) gets
markup that is safe to render. Links keep only http, https and mailto, and get
`rel="noopener noreferrer nofollow"`.
"""

from __future__ import annotations

import nh3

from crm_kit.errors import InvalidArgument

MAX_NOTE_BYTES = 100_000
ALLOWED_TAGS = {
    "p", "br", "strong", "b", "em", "i", "u", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "a", "span", "hr",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = {"http", "https", "mailto"}


def sanitize_note(html: str) -> str:
    """The note's HTML reduced to the allow-list; empty or oversized is refused."""
    if len(html.encode()) > MAX_NOTE_BYTES:
        raise InvalidArgument(
            f"a note is at most {MAX_NOTE_BYTES} bytes", code="note_too_long", field="body_html"
        )
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    ).strip()
    if not clean:
        raise InvalidArgument("a note needs a body", code="empty_note", field="body_html")
    return clean
