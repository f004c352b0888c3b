"""Reading what the services published, straight from the JetStream stream."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

import nats
from google.protobuf.message import Message
from nats.js.api import ConsumerConfig, DeliverPolicy

from crm.events.v1 import envelope_pb2
from crm_devstack.testing import TEST_NATS_URL
from crm_kit.events.bus import STREAM_NAME, subject_for

PayloadT = TypeVar("PayloadT", bound=Message)


def payload_of(envelope: envelope_pb2.Envelope, message_type: type[PayloadT]) -> PayloadT:
    payload = message_type()
    envelope.payload.Unpack(payload)
    return payload


async def _read_all(subject: str) -> list[envelope_pb2.Envelope]:
    nc = await nats.connect(TEST_NATS_URL)
    try:
        subscription = await nc.jetstream().pull_subscribe(
            subject, stream=STREAM_NAME, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
        )
        found: list[envelope_pb2.Envelope] = []
        while True:
            try:
                batch = await subscription.fetch(200, timeout=0.5)
            except TimeoutError:
                break
            found += [envelope_pb2.Envelope.FromString(m.data) for m in batch]
        await subscription.unsubscribe()
        return found
    finally:
        await nc.close()


async def publish(envelope: envelope_pb2.Envelope) -> None:
    """Put an envelope on the bus the way a service's outbox relay does."""
    nc = await nats.connect(TEST_NATS_URL)
    try:
        await nc.jetstream().publish(
            subject_for(envelope.type),
            envelope.SerializeToString(),
            headers={"Nats-Msg-Id": envelope.id},
        )
    finally:
        await nc.close()


async def published(
    subject: str, *, keep: Callable[[envelope_pb2.Envelope], bool], expected: int = 1
) -> list[envelope_pb2.Envelope]:
    """The envelopes on `subject` that `keep` selects, in stream order, waiting up to
    about 10 s for `expected` of them (the relays publish within a poll interval)."""
    found: list[envelope_pb2.Envelope] = []
    for _ in range(20):
        found = [e for e in await _read_all(subject) if keep(e)]
        if len(found) >= expected:
            break
        await asyncio.sleep(0.25)
    return found
