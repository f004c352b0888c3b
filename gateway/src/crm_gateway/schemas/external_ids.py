"""`external_id`, the same on contacts, companies, leads and deals."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

EXTERNAL_ID_MAX = 200
EXAMPLE = "SF-0031"
_WHAT = (
    "The record's id in another system (the key a sync or an import matches on): unique "
    "among the tenant's records of this type, trimmed, at most 200 characters. A value "
    "another record holds answers 409 `external_id_taken`."
)

ExternalIdInput = Annotated[
    str, Field(max_length=EXTERNAL_ID_MAX, description=f"{_WHAT} Empty: none.", examples=[EXAMPLE])
]
ExternalIdChange = Annotated[
    str | None,
    Field(
        max_length=EXTERNAL_ID_MAX,
        description=f"{_WHAT} An empty string clears it; absent or null leaves it.",
        examples=[EXAMPLE],
    ),
]
ExternalId = Annotated[
    str | None,
    Field(
        description="The record's id in another system, unique per tenant among records of "
        "this type; null when none. Filter on it: `?filter=external_id:eq:SF-0031`.",
        examples=[EXAMPLE],
    ),
]
