"""Access tokens refused before they expire: ended sessions and deactivated users.

Identity publishes `identity.access.revoked`; every verifier follows those events
from (now - access token lifetime) on, so a restarted process knows every
revocation whose tokens could still be alive.
"""

from __future__ import annotations

import time
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from nats.js import JetStreamContext

from crm.events.v1 import envelope_pb2
from crm.events.v1 import identity_pb2 as identity_events
from crm_kit.auth.tokens import Principal
from crm_kit.events.follower import follow

REVOCATION_EVENT = "identity.access.revoked"

# Entries outlive the longest access token, then are forgotten.
DEFAULT_RETENTION_SECONDS = 3600


def follow_revocations(
    js: JetStreamContext, revocations: RevocationList
) -> Coroutine[Any, Any, None]:
    """The follower that keeps `revocations` current (run it beside the server)."""

    def handle(envelope: envelope_pb2.Envelope) -> None:
        event = identity_events.AccessRevoked()
        envelope.payload.Unpack(event)
        revocations.apply(event)

    return follow(
        js,
        REVOCATION_EVENT,
        since=timedelta(seconds=revocations.retention_seconds),
        handle=handle,
    )


class RevocationList:
    def __init__(self, *, retention_seconds: float = DEFAULT_RETENTION_SECONDS) -> None:
        self.retention_seconds = retention_seconds
        # session id -> when it ended; user id -> tokens issued up to then are void
        self._sessions: dict[str, float] = {}
        self._users: dict[str, float] = {}

    def apply(self, event: identity_events.AccessRevoked) -> None:
        revoked_at = (
            event.revoked_at.ToDatetime().timestamp()
            if event.HasField("revoked_at")
            else time.time()
        )
        if event.session_id:
            self._sessions[event.session_id] = revoked_at
        else:
            self._users[event.user_id] = max(revoked_at, self._users.get(event.user_id, 0.0))
        self._prune()

    def is_revoked(self, principal: Principal) -> bool:
        if principal.session_id and principal.session_id in self._sessions:
            return True
        revoked_at = self._users.get(str(principal.user_id))
        # iat carries milliseconds, so a token minted right after the revocation passes.
        return revoked_at is not None and principal.issued_at <= revoked_at

    def _prune(self) -> None:
        horizon = time.time() - self.retention_seconds
        for table in (self._sessions, self._users):
            for key in [k for k, at in table.items() if at < horizon]:
                del table[key]
