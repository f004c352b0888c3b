"""Capture form settings and submitted attribution, validated here for every transport.

What needs no database is checked here (names, types, origins, URLs); that a field maps
to a lead field or a defined lead custom field is checked in `forms`.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from crm_core.models.capture import URL_LENGTH, UTM_LENGTH
from crm_kit.errors import InvalidArgument
from crm_kit.validation import clean_text

INPUT_TYPES = ("text", "email", "tel", "url", "number", "textarea")
# Standard lead fields a form may fill (source is always web_form, status new).
LEAD_TARGETS = ("first_name", "last_name", "email", "phone", "company_name", "domain")
CUSTOM_PREFIX = "custom_fields."
# Names the hosted page and the snippet use for attribution: no form field may take them.
ATTRIBUTION_FIELDS = (
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "referrer",
    "landing_url",
)
FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
PUBLIC_KEY_PREFIX = "pf_"
PUBLIC_KEY = re.compile(r"^pf_[A-Za-z0-9_-]{32}$")
MAX_FIELDS = 30
MAX_ORIGINS = 20
LABEL_MAX = 200
NAME_MAX = 200
THANK_YOU_MAX = 2000
DEFAULT_HONEYPOT = "website_url"
DEFAULT_THANK_YOU = "Thank you! We will be in touch."


def new_public_key() -> str:
    """`pf_` and 24 random bytes (192 bits) in URL-safe base64: unguessable, URL-safe."""
    return PUBLIC_KEY_PREFIX + secrets.token_urlsafe(24)


def is_public_key(value: str) -> bool:
    return bool(PUBLIC_KEY.match(value))


def _invalid(message: str, field_name: str, code: str = "invalid_form") -> InvalidArgument:
    return InvalidArgument(message, code=code, field=field_name)


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    input_type: str = "text"
    required: bool = False
    maps_to: str = ""

    def cleaned(self, where: str) -> FormField:
        if not FIELD_NAME.match(self.name):
            raise _invalid(
                "a field name is a letter then letters, digits or _ (64 at most)", f"{where}.name"
            )
        if self.name in ATTRIBUTION_FIELDS:
            raise _invalid(f"{self.name} is reserved for attribution", f"{where}.name")
        label = clean_text(self.label, field=f"{where}.label", max_length=LABEL_MAX)
        input_type = self.input_type or "text"
        if input_type not in INPUT_TYPES:
            raise _invalid(f"input_type is one of {', '.join(INPUT_TYPES)}", f"{where}.input_type")
        maps_to = self.maps_to.strip()
        if maps_to not in LEAD_TARGETS and not maps_to.startswith(CUSTOM_PREFIX):
            raise _invalid(
                f"maps_to is one of {', '.join(LEAD_TARGETS)} or custom_fields.<key>",
                f"{where}.maps_to",
                code="invalid_mapping",
            )
        return FormField(self.name, label or self.name, input_type, self.required, maps_to)

    @property
    def custom_key(self) -> str | None:
        return self.maps_to.removeprefix(CUSTOM_PREFIX) if self.is_custom else None

    @property
    def is_custom(self) -> bool:
        return self.maps_to.startswith(CUSTOM_PREFIX)


def clean_origin(value: str, where: str) -> str:
    """An exact origin, `scheme://host[:port]`, lowercased; nothing after the host."""
    parts = urlsplit(value.strip())
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username
        or parts.password
    ):
        raise _invalid("an origin is scheme://host[:port], nothing more", where, "invalid_origin")
    try:
        port = parts.port
    except ValueError as exc:
        raise _invalid("the origin's port is not a number", where, "invalid_origin") from exc
    default_port = {"http": 80, "https": 443}[parts.scheme]
    suffix = f":{port}" if port is not None and port != default_port else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{suffix}"


def clean_redirect_url(value: str) -> str:
    value = value.strip()
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(value) > URL_LENGTH:
        raise _invalid("redirect_url is an absolute http(s) URL", "redirect_url")
    return value


@dataclass(frozen=True)
class FormSettings:
    name: str
    fields: list[FormField]
    allowed_origins: list[str] = field(default_factory=list)
    redirect_url: str = ""
    thank_you_message: str = ""
    double_opt_in: bool = False
    honeypot_field: str = ""
    enabled: bool = True

    def cleaned(self) -> FormSettings:
        name = clean_text(self.name, field="name", max_length=NAME_MAX)
        if not name:
            raise InvalidArgument("a form needs a name", code="required", field="name")
        if self.double_opt_in:
            # Double opt-in sends a confirmation email, and messaging does not exist yet:
            # refusing it is honest, accepting it would capture leads nobody confirmed.
            raise InvalidArgument(
                "double opt-in needs email messaging, which is not available yet",
                code="messaging_unavailable",
                field="double_opt_in",
            )
        fields = self._cleaned_fields()
        honeypot = self.honeypot_field.strip() or DEFAULT_HONEYPOT
        if not FIELD_NAME.match(honeypot) or honeypot in ATTRIBUTION_FIELDS:
            raise _invalid("honeypot_field is a plain field name", "honeypot_field")
        if honeypot in {f.name for f in fields}:
            raise _invalid("the honeypot must not be one of the form's fields", "honeypot_field")
        if len(self.allowed_origins) > MAX_ORIGINS:
            raise _invalid(f"at most {MAX_ORIGINS} origins", "allowed_origins")
        origins = [
            clean_origin(o, f"allowed_origins.{i}") for i, o in enumerate(self.allowed_origins)
        ]
        thank_you = clean_text(
            self.thank_you_message, field="thank_you_message", max_length=THANK_YOU_MAX
        )
        redirect = clean_redirect_url(self.redirect_url)
        return FormSettings(
            name=name,
            fields=fields,
            allowed_origins=list(dict.fromkeys(origins)),
            redirect_url=redirect,
            thank_you_message=thank_you or ("" if redirect else DEFAULT_THANK_YOU),
            double_opt_in=False,
            honeypot_field=honeypot,
            enabled=self.enabled,
        )

    def _cleaned_fields(self) -> list[FormField]:
        if not 1 <= len(self.fields) <= MAX_FIELDS:
            raise _invalid(f"a form has 1 to {MAX_FIELDS} fields", "fields")
        fields = [f.cleaned(f"fields.{i}") for i, f in enumerate(self.fields)]
        for kind, values in (
            ("name", [f.name for f in fields]),
            ("maps_to", [f.maps_to for f in fields]),
        ):
            duplicate = next((v for i, v in enumerate(values) if v in values[:i]), None)
            if duplicate is not None:
                raise _invalid(f"two fields share the {kind} {duplicate!r}", "fields")
        email = next((f for f in fields if f.maps_to == "email"), None)
        if email is None or not email.required:
            # Submissions are matched to leads and contacts by email.
            raise _invalid(
                "a form needs a required field mapped to email", "fields", "email_required"
            )
        return fields


def _clip(value: str, length: int) -> str:
    """Visitor-supplied text, kept printable and short: attribution is never refused."""
    printable = "".join(c for c in value if c.isprintable())
    return printable.strip()[:length]


def _clean_url(value: str) -> str:
    value = _clip(value, URL_LENGTH)
    return value if urlsplit(value).scheme in ("http", "https") else ""


@dataclass(frozen=True)
class Attribution:
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    utm_term: str = ""
    utm_content: str = ""
    referrer: str = ""
    landing_url: str = ""

    def cleaned(self) -> Attribution:
        return Attribution(
            utm_source=_clip(self.utm_source, UTM_LENGTH),
            utm_medium=_clip(self.utm_medium, UTM_LENGTH),
            utm_campaign=_clip(self.utm_campaign, UTM_LENGTH),
            utm_term=_clip(self.utm_term, UTM_LENGTH),
            utm_content=_clip(self.utm_content, UTM_LENGTH),
            referrer=_clean_url(self.referrer),
            landing_url=_clean_url(self.landing_url),
        )

    def as_columns(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in ATTRIBUTION_FIELDS}


@dataclass(frozen=True)
class Submission:
    public_key: str
    values: dict[str, str]
    attribution: Attribution
    origin: str = ""
