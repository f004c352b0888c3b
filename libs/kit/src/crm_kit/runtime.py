"""The one way a service process starts: `migrate` or `serve`, wired from its parts.

A service's `__main__` hands `service_main` its settings class, its migrations and a
`build` function that returns what to serve and consume; everything else (logging,
engine, JWKS verifier, gRPC server, outbox relay, consumers, shutdown) happens here.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Collection, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvloop
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_kit.auth.identity_client import identity_jwks_fetcher
from crm_kit.auth.revocations import RevocationList, follow_revocations
from crm_kit.auth.tokens import AccessTokenVerifier, JwksCache, JwksFetcher
from crm_kit.db.provision import provision
from crm_kit.db.session import create_engine, make_session_factory
from crm_kit.events import bus
from crm_kit.events.consumer import EventConsumer
from crm_kit.events.relay import OutboxRelay
from crm_kit.grpc.server import (
    ServiceRegistration,
    build_server,
    drain,
    mark_serving,
    stop_event_on_signals,
)
from crm_kit.logging import configure_logging
from crm_kit.settings import ServiceSettings

log = logging.getLogger(__name__)


@dataclass
class ServiceParts:
    """What `build` returns: the servicers, and the event machinery to run beside them."""

    registrations: Sequence[ServiceRegistration]
    public_methods: Collection[str] = ()
    outbox_model: type[Any] | None = None
    consumers: Sequence[EventConsumer] = ()
    jwks_fetcher: JwksFetcher | None = None
    on_start: Sequence[Callable[[], Awaitable[None]]] = field(default_factory=tuple)
    # Run beside the server until shutdown (for example reloading signing keys).
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=tuple)


Build = Callable[[ServiceSettings, async_sessionmaker[AsyncSession]], ServiceParts]


async def serve(name: str, settings: ServiceSettings, build: Build) -> None:
    engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
    factory = make_session_factory(engine)
    parts = build(settings, factory)
    fetcher = parts.jwks_fetcher or identity_jwks_fetcher(settings.identity_address)
    revocations = RevocationList()
    verifier = AccessTokenVerifier(
        JwksCache(fetcher),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        revocations=revocations,
    )
    server, health_servicer, port = build_server(
        parts.registrations,
        bind=settings.grpc_bind,
        verifier=verifier,
        public_methods=parts.public_methods,
    )
    for hook in parts.on_start:
        await hook()
    stop = stop_event_on_signals()
    await server.start()
    await mark_serving(health_servicer, [r.name for r in parts.registrations])
    log.info("serving gRPC", extra={"service": name, "port": port})
    background = [
        asyncio.create_task(
            _restarting(
                functools.partial(_run_events, name, settings, factory, parts, revocations),
                what="event machinery",
                delay=1.0,
                max_delay=30.0,
            )
        ),
        *(
            asyncio.create_task(_restarting(work, what="background work", delay=5.0, max_delay=5.0))
            for work in parts.background
        ),
    ]
    await stop.wait()
    log.info("shutting down")
    for task in background:
        task.cancel()
    await asyncio.gather(*background, return_exceptions=True)
    await drain(server, health_servicer)
    await engine.dispose()


async def _restarting(
    work: Callable[[], Awaitable[None]], *, what: str, delay: float, max_delay: float
) -> None:
    """Run `work` until it returns: whatever stops it is logged and it starts again after
    a pause that doubles up to `max_delay`, so an unreachable or misconfigured JetStream
    (or one failing worker) never silently leaves its work undone."""
    while True:
        try:
            await work()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s stopped; restarting", what, extra={"in": delay})
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay)


async def _run_events(
    name: str,
    settings: ServiceSettings,
    factory: async_sessionmaker[AsyncSession],
    parts: ServiceParts,
    revocations: RevocationList,
) -> None:
    nc = await bus.connect(settings.nats_url, name=name)
    try:
        js = nc.jetstream()
        await bus.ensure_stream(js)
        loops: list[Coroutine[Any, Any, None]] = [c.run(js) for c in parts.consumers]
        loops.append(follow_revocations(js, revocations))
        if parts.outbox_model is not None:
            relay = OutboxRelay(
                factory, parts.outbox_model, poll_seconds=settings.outbox_poll_seconds
            )
            loops.append(relay.run(js))
        await asyncio.gather(*loops)
    finally:
        await bus.close(nc)


Command = Callable[[ServiceSettings], Coroutine[Any, Any, None]]


def service_main(
    name: str,
    settings_class: type[ServiceSettings],
    *,
    migrations_dir: Path,
    build: Build,
    commands: Mapping[str, Command] | None = None,
    argv: Sequence[str] | None = None,
) -> None:
    """`python -m <service> migrate|serve`, plus the service's own operator commands."""
    extra = dict(commands or {})
    parser = argparse.ArgumentParser(prog=f"python -m {name}")
    parser.add_argument("command", choices=["migrate", "serve", *extra])
    args = parser.parse_args(argv)
    settings = settings_class()  # filled from the environment
    configure_logging(name, settings.log_level)
    if args.command in extra:
        asyncio.run(extra[args.command](settings))
    elif args.command == "migrate":
        asyncio.run(
            provision(
                migration_url=settings.migration_database_url,
                runtime_url=settings.database_url,
                migrations_dir=migrations_dir,
            )
        )
        log.info("database migrated")
    else:
        # uvloop: a leaner event loop, for a few hundred microseconds per request.
        uvloop.run(serve(name, settings, build))
