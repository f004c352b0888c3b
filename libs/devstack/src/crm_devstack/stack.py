"""The platform's topology in one place: its processes, ports, databases and environment,
and the order they start in (migrations, identity, the other services, the gateway)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from sqlalchemy.engine import URL

from crm_devstack.processes import (
    Job,
    StackProcessError,
    Supervisor,
    grpc_health_check,
    http_health_check,
    module_command,
    port_open,
    run_all,
)


@dataclass(frozen=True)
class ProcessSpec:
    """A server process: `python -m <module> serve`, configured by `<env_prefix>*` vars."""

    name: str
    module: str
    env_prefix: str
    port: int


@dataclass(frozen=True)
class ServiceSpec(ProcessSpec):
    """A gRPC service with its own database."""

    database: str


IDENTITY = ServiceSpec("identity", "crm_identity", "IDENTITY_", 50051, "crm_identity")
SERVICES: tuple[ServiceSpec, ...] = (
    IDENTITY,
    ServiceSpec("crm-core", "crm_core", "CRM_CORE_", 50052, "crm_core"),
    ServiceSpec("messaging", "crm_messaging", "MESSAGING_", 50053, "crm_messaging"),
    ServiceSpec("billing", "crm_billing", "BILLING_", 50054, "crm_billing"),
    ServiceSpec("privacy", "crm_privacy", "PRIVACY_", 50055, "crm_privacy"),
)
GATEWAY = ProcessSpec("gateway", "crm_gateway", "GATEWAY_", 8000)


@dataclass(frozen=True)
class StackConfig:
    """Where the backing servers are and which ports the stack takes.

    `postgres_host` is `host:port` for TCP, or an absolute socket directory. Tests set
    `database_suffix` (`crm_core_e2e`) and `port_offset` or `ports` to run beside `make run`.
    """

    postgres_host: str = "127.0.0.1:5432"
    postgres_user: str = "postgres"
    postgres_password: str | None = None
    app_password: str | None = None
    database_suffix: str = ""
    nats_url: str = "nats://127.0.0.1:4222"
    rate_limit_storage_url: str = "memory://"
    host: str = "127.0.0.1"
    port_offset: int = 0
    ports: Mapping[str, int] = field(default_factory=dict)
    log_level: str = "INFO"
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def port(self, spec: ProcessSpec) -> int:
        return self.ports.get(spec.name, spec.port + self.port_offset)

    def address(self, spec: ProcessSpec) -> str:
        return f"{self.host}:{self.port(spec)}"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.address(GATEWAY)}"

    def database(self, service: ServiceSpec) -> str:
        return f"{service.database}{self.database_suffix}"

    def database_url(self, database: str, *, user: str, password: str | None) -> str:
        """An asyncpg DSN; a socket directory goes in the `host` query parameter."""
        if self.postgres_host.startswith("/"):
            url = URL.create(
                "postgresql+asyncpg",
                username=user,
                password=password,
                database=database,
                query={"host": self.postgres_host},
            )
        else:
            host, _, port = self.postgres_host.rpartition(":")
            url = URL.create(
                "postgresql+asyncpg",
                username=user,
                password=password,
                host=host,
                port=int(port),
                database=database,
            )
        return url.render_as_string(hide_password=False)


def service_env(config: StackConfig, service: ServiceSpec) -> dict[str, str]:
    """Env of one service: its database (runtime role `<db>_app`, owner for migrations)."""
    prefix = service.env_prefix
    database = config.database(service)
    return {
        f"{prefix}DATABASE_URL": config.database_url(
            database, user=f"{database}_app", password=config.app_password
        ),
        f"{prefix}MIGRATION_DATABASE_URL": config.database_url(
            database, user=config.postgres_user, password=config.postgres_password
        ),
        f"{prefix}NATS_URL": config.nats_url,
        f"{prefix}GRPC_HOST": config.host,
        f"{prefix}GRPC_PORT": str(config.port(service)),
        f"{prefix}LOG_LEVEL": config.log_level,
        **_peer_addresses(config, prefix),
        **config.extra_env,
    }


def gateway_env(config: StackConfig) -> dict[str, str]:
    prefix = GATEWAY.env_prefix
    return {
        f"{prefix}HTTP_HOST": config.host,
        f"{prefix}HTTP_PORT": str(config.port(GATEWAY)),
        f"{prefix}RATE_LIMIT_STORAGE_URL": config.rate_limit_storage_url,
        f"{prefix}NATS_URL": config.nats_url,
        f"{prefix}LOG_LEVEL": config.log_level,
        **_peer_addresses(config, prefix),
        **config.extra_env,
    }


def _peer_addresses(config: StackConfig, prefix: str) -> dict[str, str]:
    """`<P>IDENTITY_ADDRESS`, `<P>CRM_CORE_ADDRESS`...: any process may call any service;
    settings ignore the variables they do not declare."""
    return {f"{prefix}{s.env_prefix}ADDRESS": config.address(s) for s in SERVICES}


class Stack:
    """The platform's processes: migrated, started in dependency order, stopped in reverse."""

    def __init__(self, config: StackConfig, *, log_dir: Path, startup_timeout: float = 90.0):
        self.config = config
        self.log_dir = log_dir
        self.supervisor = Supervisor(log_dir, startup_timeout=startup_timeout)

    @property
    def gateway_url(self) -> str:
        return self.config.gateway_url

    def migrate(self) -> None:
        """Provision and migrate every database: identity first, then the rest side by side."""
        run_all([self._migration(IDENTITY)], log_dir=self.log_dir)
        run_all([self._migration(s) for s in SERVICES[1:]], log_dir=self.log_dir)

    def start(self) -> None:
        """Migrate, then start identity, the other services and the gateway, each ready in turn.

        On failure whatever already started is stopped before the error propagates.
        """
        self._ensure_ports_free()
        try:
            self.migrate()
            self.supervisor.start([self._service(IDENTITY)])
            self.supervisor.start([self._service(s) for s in SERVICES[1:]])
            self.supervisor.start([self._gateway()])
        except BaseException:
            self.stop()
            raise

    def check(self) -> None:
        """Raise `StackProcessError` if any process has exited."""
        self.supervisor.check()

    def stop(self) -> None:
        self.supervisor.stop()

    def _ensure_ports_free(self) -> None:
        """A taken port would make another stack's process look like ours when probed."""
        for spec in (*SERVICES, GATEWAY):
            if port_open(self.config.host, self.config.port(spec)):
                raise StackProcessError(
                    f"{spec.name} cannot start: {self.config.address(spec)} is in use"
                )

    def _migration(self, service: ServiceSpec) -> Job:
        command = module_command(service.module, "migrate")
        return Job(f"{service.name}-migrate", command, service_env(self.config, service))

    def _service(self, service: ServiceSpec) -> Job:
        command = module_command(service.module, "serve")
        ready = grpc_health_check(self.config.address(service))
        return Job(service.name, command, service_env(self.config, service), ready)

    def _gateway(self) -> Job:
        command = module_command(GATEWAY.module, "serve")
        ready = http_health_check(f"{self.gateway_url}/healthz")
        return Job(GATEWAY.name, command, gateway_env(self.config), ready)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
