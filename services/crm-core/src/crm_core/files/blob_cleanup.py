"""Blobs follow their rows' transaction: removed after a commit that deleted their row,
and after a rollback that dropped the row an upload was about to add.

Rows change inside the transaction, bytes cannot, so each session keeps the keys to
remove and a session hook removes them once the outcome is known. A process that dies
between commit and removal leaves a blob no row names; nothing reads it, and a sweep
comparing the store to the `files` table may remove it (not built yet).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import event
from sqlalchemy.orm import Session

from crm_core.files.storage import FileStore

log = logging.getLogger(__name__)

_ON_COMMIT = "crm_core.files.remove_on_commit"
_ON_ROLLBACK = "crm_core.files.remove_on_rollback"
_stores: list[FileStore] = []


def remove_after_commit(session: Session, keys: Iterable[str]) -> None:
    session.info.setdefault(_ON_COMMIT, []).extend(keys)


def remove_after_rollback(session: Session, keys: Iterable[str]) -> None:
    session.info.setdefault(_ON_ROLLBACK, []).extend(keys)


def _remove(keys: list[str]) -> None:
    for store in _stores:
        for key in keys:
            try:
                store.remove(key)
            except OSError:
                log.warning("could not remove blob %s; a sweep may", key, exc_info=True)


def _after_commit(session: Session) -> None:
    session.info.pop(_ON_ROLLBACK, None)
    _remove(session.info.pop(_ON_COMMIT, []))


def _after_rollback(session: Session) -> None:
    session.info.pop(_ON_COMMIT, None)
    _remove(session.info.pop(_ON_ROLLBACK, []))


def use_store(store: FileStore) -> None:
    """Blobs of this process live in `store` (the last call wins)."""
    _stores[:] = [store]
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
