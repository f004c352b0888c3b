"""`python -m crm_gateway serve`: the public API on uvicorn."""

from __future__ import annotations

import argparse

import uvicorn

from crm_gateway.app import create_app
from crm_gateway.settings import GatewaySettings
from crm_kit.logging import configure_logging


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m crm_gateway")
    parser.add_argument("command", choices=["serve"])
    parser.parse_args()
    settings = GatewaySettings()
    configure_logging("gateway", settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        server_header=False,
        # uvicorn rewrites the client address from X-Forwarded-For only for these
        # peers, before the edge middleware drops every x-forwarded-* header.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
