"""Public event types: what a pattern matches, and which subscriptions are refused."""

from __future__ import annotations

import pytest

from crm_kit.errors import InvalidArgument
from crm_messaging.webhooks.catalog import BY_INTERNAL, CATALOG, checked_patterns, matches

pytestmark = pytest.mark.unit


class TestMatching:
    @pytest.mark.parametrize(
        ("pattern", "event_type", "expected"),
        [
            ("*", "contact.created", True),
            ("contact.*", "contact.created", True),
            ("contact.*", "contact.merged", True),
            ("contact.*", "company.created", False),
            ("deal.stage_changed", "deal.stage_changed", True),
            ("deal.created", "deal.updated", False),
        ],
    )
    def test_patterns(self, pattern: str, event_type: str, expected: bool) -> None:
        assert matches(pattern, event_type) is expected


class TestSubscriptions:
    def test_known_types_and_wildcards_are_accepted_and_deduplicated(self) -> None:
        assert checked_patterns(["contact.*", "*", "lead.converted", "contact.*"]) == [
            "contact.*",
            "*",
            "lead.converted",
        ]

    @pytest.mark.parametrize(
        "pattern",
        [
            "gateway.api_request.logged",
            "identity.user.created",
            "crm_core.contact.created",
            "x.*",
            "contact",
        ],
    )
    def test_unknown_or_internal_types_are_refused(self, pattern: str) -> None:
        with pytest.raises(InvalidArgument) as refused:
            checked_patterns(["contact.created", pattern])
        assert refused.value.code == "unknown_event_type"
        assert refused.value.details["field"] == "event_types[1]"

    def test_an_empty_subscription_is_refused(self) -> None:
        with pytest.raises(InvalidArgument):
            checked_patterns([])

    def test_only_crm_record_events_are_public(self) -> None:
        assert all(t.internal.startswith("crm_core.") for t in CATALOG)
        assert "crm_core.lead.converted" in BY_INTERNAL
        assert "crm_core.deal.stage_changed" in BY_INTERNAL
        assert not {t.name.split(".")[0] for t in CATALOG} & {"custom_field", "tag", "record"}
