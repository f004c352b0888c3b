"""Routes of this area (see the module's router)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["mfa"])
