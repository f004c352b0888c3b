"""Async gRPC server bootstrap: health, reflection, interceptors, graceful shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from crm_kit.auth.tokens import AccessTokenVerifier
from crm_kit.grpc.interceptors import ContextServerInterceptor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceRegistration:
    """One servicer: how to add it, and its full service name (for health and reflection)."""

    name: str
    add: Callable[[grpc.aio.Server], None]


def build_server(
    registrations: Iterable[ServiceRegistration],
    *,
    bind: str,
    verifier: AccessTokenVerifier | None,
    public_methods: Collection[str] = (),
) -> tuple[grpc.aio.Server, health.aio.HealthServicer, int]:
    """A server with every registration, health (all SERVING) and reflection; not started."""
    server = grpc.aio.server(
        interceptors=[ContextServerInterceptor(verifier, public_methods=public_methods)],
        options=[("grpc.so_reuseport", 0)],
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [health_pb2.DESCRIPTOR.services_by_name["Health"].full_name]
    for registration in registrations:
        registration.add(server)
        names.append(registration.name)
    reflection.enable_server_reflection([*names, reflection.SERVICE_NAME], server)
    port = server.add_insecure_port(bind)
    if port == 0:
        raise RuntimeError(f"cannot bind gRPC to {bind}")
    return server, health_servicer, port


async def mark_serving(health_servicer: health.aio.HealthServicer, names: Iterable[str]) -> None:
    for name in ("", *names):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)


def stop_event_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM, so `main` can shut down in order."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def drain(
    server: grpc.aio.Server, health_servicer: health.aio.HealthServicer, *, grace: float = 5.0
) -> None:
    """Report NOT_SERVING so load balancers move away, then finish in-flight calls."""
    await health_servicer.enter_graceful_shutdown()
    await server.stop(grace)
    log.info("gRPC server stopped")
