"""The retry schedule: exponential with full jitter, retried for at least 24 hours."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from crm_messaging.webhooks.retry import DEFAULT_SCHEDULE, JITTER_FLOOR, RetryPolicy

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class TestSchedule:
    def test_default_schedule_spans_at_least_24_hours(self) -> None:
        assert sum(DEFAULT_SCHEDULE) >= 24 * 3600
        assert list(DEFAULT_SCHEDULE) == sorted(DEFAULT_SCHEDULE)

    def test_delays_are_jittered_within_the_nominal_delay(self) -> None:
        policy, rng = RetryPolicy(), random.Random(7)
        for attempts in range(1, 15):
            nominal = DEFAULT_SCHEDULE[min(attempts, len(DEFAULT_SCHEDULE)) - 1]
            draws = {policy.delay(attempts, rng=rng).total_seconds() for _ in range(20)}
            assert all(JITTER_FLOOR * nominal <= d <= nominal for d in draws)
            assert len(draws) > 1

    def test_never_gives_up_before_the_window_even_with_short_draws(self) -> None:
        policy, rng = RetryPolicy(), random.Random(1)
        now, attempts = T0, 0
        while True:
            attempts += 1
            if policy.gives_up(attempts, window_started_at=T0, now=now):
                break
            now += policy.delay(attempts, rng=rng)
        assert now - T0 >= timedelta(hours=24)
        assert attempts >= len(DEFAULT_SCHEDULE)

    def test_retry_after_is_honoured_within_bounds(self) -> None:
        policy = RetryPolicy()
        assert policy.delay(1, retry_after=120).total_seconds() >= 120
        assert policy.delay(1, retry_after=10**9).total_seconds() <= 8 * 3600

    def test_scale_shrinks_delays_and_window(self) -> None:
        policy = RetryPolicy(scale=0.001)
        assert policy.delay(11).total_seconds() <= 8 * 3600 * 0.001
        late = T0 + timedelta(hours=24) * 0.001
        assert policy.gives_up(len(DEFAULT_SCHEDULE), window_started_at=T0, now=late)
        assert not policy.gives_up(len(DEFAULT_SCHEDULE) - 1, window_started_at=T0, now=late)
