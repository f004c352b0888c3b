"""When a failed delivery is tried again: exponential backoff with full jitter.

The nominal delays grow from 5 seconds to 8 hours and together span more than 24 hours;
each actual delay is drawn uniformly between a tenth of the nominal one and all of it
(full jitter, floored so retries never bunch at zero). After the schedule is used up
the last delay repeats until the delivery's window (24 hours from its first attempt, or
from a replay) has passed, so a delivery is retried for at least 24 hours whatever the
draws. A settings scale shrinks everything for tests.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

MINUTE, HOUR = 60.0, 3600.0
DEFAULT_SCHEDULE: tuple[float, ...] = (
    5.0,
    30.0,
    2 * MINUTE,
    10 * MINUTE,
    30 * MINUTE,
    1 * HOUR,
    2 * HOUR,
    4 * HOUR,
    8 * HOUR,
    8 * HOUR,
    8 * HOUR,
)
RETRY_WINDOW = timedelta(hours=24)
JITTER_FLOOR = 0.1
# A receiver's Retry-After is honoured up to this (before scaling).
MAX_RETRY_AFTER_SECONDS = 8 * HOUR


@dataclass(frozen=True)
class RetryPolicy:
    schedule: tuple[float, ...] = DEFAULT_SCHEDULE
    window: timedelta = RETRY_WINDOW
    scale: float = 1.0

    def delay(
        self,
        attempts_made: int,
        *,
        retry_after: float | None = None,
        rng: random.Random | None = None,
    ) -> timedelta:
        """The wait before the next attempt, after `attempts_made` attempts (1 or more)."""
        nominal = self.schedule[min(attempts_made, len(self.schedule)) - 1]
        drawn = (rng or random).uniform(JITTER_FLOOR * nominal, nominal)
        if retry_after is not None:
            drawn = max(drawn, min(retry_after, MAX_RETRY_AFTER_SECONDS))
        return timedelta(seconds=drawn * self.scale)

    def gives_up(self, attempts_made: int, *, window_started_at: datetime, now: datetime) -> bool:
        """True once the schedule is used up and the window (scaled) has passed."""
        return attempts_made >= len(self.schedule) and (
            now - window_started_at >= self.window * self.scale
        )
