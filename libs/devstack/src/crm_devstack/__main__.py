"""`make run`: the whole platform on embedded PostgreSQL and NATS, with a demo tenant.

Data is kept in `.data/` between runs. Ctrl-C or SIGTERM stops the gateway, the
services, NATS and PostgreSQL, in that order, and exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx
from cryptography.fernet import Fernet

from crm_devstack.embedded import EmbeddedNats, EmbeddedPostgres
from crm_devstack.processes import StackProcessError
from crm_devstack.stack import GATEWAY, Stack, StackConfig

REPO_ROOT = Path(__file__).resolve().parents[4]
READY_LINE = "CRM platform is running"
DEMO_ORGANIZATION = "Demo Org"
DEMO_OWNER = "Demo Owner"
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password-2026"


class DemoSignupError(RuntimeError):
    """The gateway refused the demo login or signup for an unexpected reason."""


@dataclass(frozen=True)
class Options:
    data_dir: Path
    gateway_port: int
    nats_port: int
    port_offset: int
    log_level: str


def parse_options(argv: Sequence[str] | None) -> Options:
    """CLI flags, each defaulting to a CRM_DEVSTACK_* variable, then to the usual value."""
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m crm_devstack", description=__doc__)
    parser.add_argument(
        "--data-dir", type=Path, default=Path(env("CRM_DEVSTACK_DATA_DIR", REPO_ROOT / ".data"))
    )
    parser.add_argument(
        "--gateway-port", type=int, default=int(env("CRM_DEVSTACK_GATEWAY_PORT", GATEWAY.port))
    )
    parser.add_argument("--nats-port", type=int, default=int(env("CRM_DEVSTACK_NATS_PORT", 4223)))
    parser.add_argument(
        "--port-offset",
        type=int,
        default=int(env("CRM_DEVSTACK_PORT_OFFSET", 0)),
        help="added to every service's gRPC port (50051...)",
    )
    parser.add_argument("--log-level", default=env("CRM_DEVSTACK_LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)
    return Options(
        data_dir=args.data_dir.resolve(),
        gateway_port=args.gateway_port,
        nats_port=args.nats_port,
        port_offset=args.port_offset,
        log_level=args.log_level.upper(),
    )


def webhook_secret_key(data_dir: Path) -> str:
    """The key messaging encrypts webhook signing secrets with: generated on the first
    run into the data folder (owner-only) and reused, so secrets survive restarts."""
    path = data_dir / "messaging-webhook-secret.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        key = Fernet.generate_key().decode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(key)
    return path.read_text().strip()


def ensure_demo_tenant(gateway_url: str) -> bool:
    """Sign the demo organization up unless its owner can already log in; True if created.

    Login comes first because an email may belong to several organizations, so signing
    up again would not answer 409 but create a second "Demo Org".
    """
    with httpx.Client(base_url=gateway_url, timeout=30.0) as client:
        credentials = {"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
        login = client.post("/v1/auth/login", json=credentials)
        if login.status_code == 200:
            return False
        if login.status_code != 401:
            raise DemoSignupError(f"demo login answered {login.status_code}: {login.text}")
        body = {
            "organization_name": DEMO_ORGANIZATION,
            "owner_name": DEMO_OWNER,
            "age_attested": True,
            **credentials,
        }
        signup = client.post("/v1/auth/signup", json=body)
    if signup.status_code == 409:
        return False
    if signup.is_error:
        raise DemoSignupError(f"demo signup answered {signup.status_code}: {signup.text}")
    return True


def banner(gateway_url: str, log_dir: Path) -> str:
    login = f'{{"email": "{DEMO_EMAIL}", "password": "{DEMO_PASSWORD}"}}'
    return f"""
{READY_LINE}
  Gateway:    {gateway_url}
  API docs:   {gateway_url}/docs
  Demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}
  Logs:       {log_dir}

Try it:
  TOKEN=$(curl -s -X POST {gateway_url}/v1/auth/login -H 'Content-Type: application/json' \\
    -d '{login}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -H "Authorization: Bearer $TOKEN" {gateway_url}/v1/contacts

Press Ctrl-C to stop.
"""


def run(options: Options) -> int:
    """Start everything, print how to use it, and serve until a signal or a crash."""
    with contextlib.ExitStack() as running:
        postgres = running.enter_context(EmbeddedPostgres(options.data_dir / "postgres"))
        nats = running.enter_context(
            EmbeddedNats(options.data_dir / "nats", port=options.nats_port)
        )
        config = StackConfig(
            postgres_host=postgres.host,
            postgres_user=postgres.superuser,
            nats_url=nats.url,
            rate_limit_storage_url="memory://",
            port_offset=options.port_offset,
            ports={GATEWAY.name: options.gateway_port},
            log_level=options.log_level,
            extra_env={"MESSAGING_WEBHOOK_SECRET_KEY": webhook_secret_key(options.data_dir)},
        )
        log_dir = options.data_dir / "logs"
        print(f"starting the platform (logs in {log_dir})...", flush=True)
        stack = running.enter_context(Stack(config, log_dir=log_dir))
        created = ensure_demo_tenant(stack.gateway_url)
        print("demo tenant " + ("created" if created else "already exists"), flush=True)
        print(banner(stack.gateway_url, log_dir), flush=True)
        return watch(stack)


def watch(stack: Stack) -> int:
    """Block until a signal (0) or until a process exits on its own (1)."""
    try:
        while True:
            stack.check()
            time.sleep(1.0)
    except KeyboardInterrupt:
        print("stopping...", flush=True)
        return 0
    except StackProcessError as error:
        _ignore_signals()
        print(f"stopping: {error}", file=sys.stderr, flush=True)
        return 1


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGINT and SIGTERM both mean stop; later ones must not cut the orderly shutdown short."""
    _ignore_signals()
    raise KeyboardInterrupt


def _ignore_signals() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    try:
        return run(options)
    except KeyboardInterrupt:
        return 0  # interrupted while starting: what had started is stopped
    except (StackProcessError, DemoSignupError, httpx.HTTPError) as error:
        print(f"make run failed: {error}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
