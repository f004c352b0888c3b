"""One error base for domain code; transports map it to a gRPC status or problem+json."""

from __future__ import annotations

from typing import Any

import grpc


class ServiceError(Exception):
    """A failure the caller can act on. `code` is stable and machine-readable."""

    status: grpc.StatusCode = grpc.StatusCode.INTERNAL
    default_code = "internal"

    def __init__(self, message: str, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = details


class InvalidArgument(ServiceError):
    status = grpc.StatusCode.INVALID_ARGUMENT
    default_code = "invalid_argument"


class NotFound(ServiceError):
    status = grpc.StatusCode.NOT_FOUND
    default_code = "not_found"


class Conflict(ServiceError):
    status = grpc.StatusCode.ALREADY_EXISTS
    default_code = "conflict"


class PreconditionFailed(ServiceError):
    status = grpc.StatusCode.FAILED_PRECONDITION
    default_code = "precondition_failed"


class StaleVersion(ServiceError):
    """The record changed since the caller read it (optimistic concurrency)."""

    status = grpc.StatusCode.ABORTED
    default_code = "version_mismatch"


class PermissionDenied(ServiceError):
    status = grpc.StatusCode.PERMISSION_DENIED
    default_code = "permission_denied"


class Unauthenticated(ServiceError):
    status = grpc.StatusCode.UNAUTHENTICATED
    default_code = "unauthenticated"


class QuotaExceeded(ServiceError):
    status = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_code = "quota_exceeded"


class Unavailable(ServiceError):
    status = grpc.StatusCode.UNAVAILABLE
    default_code = "unavailable"


# Trailing-metadata keys that carry ServiceError.code and the offending field across gRPC.
ERROR_CODE_METADATA_KEY = "x-error-code"
ERROR_FIELD_METADATA_KEY = "x-error-field"
