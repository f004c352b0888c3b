"""The visitor's side of capture forms: the hosted page, its messages, and the snippet.

Everything is rendered here with autoescaping; the pages load only this gateway's own
script and stylesheet (a strict Content-Security-Policy says so) and set no cookie.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape

from crm.crm_core.v1 import capture_pb2

HERE = Path(__file__).parent
STYLESHEET_PATH = "/f/assets/form.css"
# JSON inside JavaScript: nothing in a value can end the script or start markup.
_SCRIPT_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


@cache
def _templates() -> Environment:
    return Environment(
        loader=FileSystemLoader(HERE),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def snippet_source() -> str:
    return (HERE / "capture.js").read_text(encoding="utf-8")


@cache
def stylesheet() -> str:
    return (HERE / "form.css").read_text(encoding="utf-8")


def hosted_path(public_key: str) -> str:
    return f"/f/{public_key}"


def submit_path(public_key: str) -> str:
    return f"/v1/public/forms/{public_key}/submissions"


def script_path(public_key: str) -> str:
    return f"/v1/public/forms/{public_key}/embed.js"


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def page_headers(redirect_url: str = "") -> dict[str, str]:
    """A strict CSP (own script and style, posting only here, or to the redirect's
    origin, which a form post follows), no referrer beyond the origin, no caching."""
    form_action = " ".join(filter(None, ["'self'", _origin_of(redirect_url)]))
    policy = (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        f"img-src 'self'; form-action {form_action}; base-uri 'none'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Cache-Control": "no-store",
    }


def form_page(
    form: capture_pb2.PublicForm,
    *,
    attribution: Mapping[str, str],
) -> str:
    return (
        _templates()
        .get_template("form.html")
        .render(
            form=form,
            action=submit_path(form.public_key),
            script=script_path(form.public_key),
            stylesheet=STYLESHEET_PATH,
            attribution=attribution,
        )
    )


def message_page(title: str, message: str, *, error: bool = False, back: str = "") -> str:
    return (
        _templates()
        .get_template("message.html")
        .render(
            title=title,
            message=message,
            css_class="crm-error" if error else "crm-thanks",
            stylesheet=STYLESHEET_PATH,
            back=back,
        )
    )


def snippet(form: capture_pb2.PublicForm, *, submit_url: str) -> str:
    """The snippet with this form's configuration: `(function (config) {...})({...});`."""
    config: dict[str, Any] = {
        "public_key": form.public_key,
        "submit_url": submit_url,
        "honeypot_field": form.honeypot_field,
        "fields": [
            {
                "name": f.name,
                "label": f.label,
                "input_type": f.input_type,
                "required": f.required,
            }
            for f in form.fields
        ],
    }
    encoded = json.dumps(config, ensure_ascii=False).translate(_SCRIPT_ESCAPES)
    return f"{snippet_source().rstrip()}({encoded});\n"
