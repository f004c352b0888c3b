"""The public event types an endpoint may subscribe to, and the internal events behind them.

Only what a CRM integration is meant to see is public: record changes of contacts,
companies, leads, deals, activities, tasks, notes and pipelines (merges and lead
conversions included). Internal traffic (gateway request logs, identity's sessions and
keys, billing) never leaves the platform; a subscription names public types only.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import Message

from crm.events.v1 import crm_core_pb2 as core
from crm_kit.errors import InvalidArgument

WILDCARD = "*"


@dataclass(frozen=True)
class PublicEventType:
    name: str  # "contact.created"
    internal: str  # "crm_core.contact.created"
    payload_type: type[Message]
    description: str


def _event(name: str, payload_type: type[Message], description: str) -> PublicEventType:
    return PublicEventType(name, f"crm_core.{name}", payload_type, description)


def _record_events(
    entity: str, created: type[Message], updated: type[Message], deleted: type[Message]
) -> list[PublicEventType]:
    return [
        _event(f"{entity}.created", created, f"A {entity} was created"),
        _event(f"{entity}.updated", updated, f"A {entity} was changed"),
        _event(f"{entity}.deleted", deleted, f"A {entity} was deleted"),
    ]


_ITEM = (core.RecordItemCreated, core.RecordItemUpdated, core.RecordItemDeleted)

CATALOG: tuple[PublicEventType, ...] = (
    *_record_events("contact", core.ContactCreated, core.ContactUpdated, core.ContactDeleted),
    _event("contact.merged", core.ContactMerged, "Two contacts were merged into one"),
    *_record_events("company", core.CompanyCreated, core.CompanyUpdated, core.CompanyDeleted),
    _event("company.merged", core.CompanyMerged, "Two companies were merged into one"),
    *_record_events("lead", core.LeadCreated, core.LeadUpdated, core.LeadDeleted),
    _event("lead.converted", core.LeadConverted, "A lead became a contact (and company, deal)"),
    *_record_events("deal", core.DealCreated, core.DealUpdated, core.DealDeleted),
    _event("deal.stage_changed", core.DealStageChanged, "A deal moved to another stage"),
    *_record_events("activity", *_ITEM),
    *_record_events("task", *_ITEM),
    *_record_events("note", *_ITEM),
    *_record_events("pipeline", core.PipelineCreated, core.PipelineUpdated, core.PipelineDeleted),
)

BY_INTERNAL: dict[str, PublicEventType] = {t.internal: t for t in CATALOG}
BY_NAME: dict[str, PublicEventType] = {t.name: t for t in CATALOG}
ENTITIES = frozenset(t.name.split(".")[0] for t in CATALOG)
MAX_PATTERNS = 50


def matches(pattern: str, event_type: str) -> bool:
    """`*` matches every public type, `deal.*` every deal type, anything else itself."""
    if pattern == WILDCARD:
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def checked_patterns(patterns: list[str], *, field: str = "event_types") -> list[str]:
    """The subscription's patterns, deduplicated in order; an unknown one is refused."""
    if not patterns:
        raise InvalidArgument(
            "subscribe to at least one event type", code="no_event_types", field=field
        )
    if len(patterns) > MAX_PATTERNS:
        raise InvalidArgument(
            f"at most {MAX_PATTERNS} event types", code="too_many_event_types", field=field
        )
    for index, pattern in enumerate(patterns):
        known = (
            pattern == WILDCARD
            or pattern in BY_NAME
            or (pattern.endswith(".*") and pattern[:-2] in ENTITIES)
        )
        if not known:
            raise InvalidArgument(
                f"unknown event type {pattern!r}; see GET /v1/webhooks/event-types",
                code="unknown_event_type",
                field=f"{field}[{index}]",
            )
    return list(dict.fromkeys(patterns))
