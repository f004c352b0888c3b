"""CORS for the API's own browser clients (GATEWAY_CORS_ORIGINS), leaving alone the
public capture-form paths, whose CORS is each form's allowed origins (routes/public_forms)."""

from __future__ import annotations

from fastapi.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send

# Answered per form: the global list must neither admit nor refuse their origins.
OWN_CORS_PREFIXES = ("/v1/public/", "/f/")


class ApiCorsMiddleware(CORSMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(OWN_CORS_PREFIXES):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
