"""One error base: each subclass names the gRPC status the transports answer with."""

from __future__ import annotations

import grpc
import pytest

from crm_kit import errors
from crm_kit.errors import ServiceError

pytestmark = pytest.mark.unit

EXPECTED: dict[type[ServiceError], tuple[grpc.StatusCode, str]] = {
    errors.InvalidArgument: (grpc.StatusCode.INVALID_ARGUMENT, "invalid_argument"),
    errors.NotFound: (grpc.StatusCode.NOT_FOUND, "not_found"),
    errors.Conflict: (grpc.StatusCode.ALREADY_EXISTS, "conflict"),
    errors.PreconditionFailed: (grpc.StatusCode.FAILED_PRECONDITION, "precondition_failed"),
    errors.StaleVersion: (grpc.StatusCode.ABORTED, "version_mismatch"),
    errors.PermissionDenied: (grpc.StatusCode.PERMISSION_DENIED, "permission_denied"),
    errors.Unauthenticated: (grpc.StatusCode.UNAUTHENTICATED, "unauthenticated"),
    errors.QuotaExceeded: (grpc.StatusCode.RESOURCE_EXHAUSTED, "quota_exceeded"),
    errors.Unavailable: (grpc.StatusCode.UNAVAILABLE, "unavailable"),
}


class TestServiceError:
    def test_every_subclass_is_covered_here(self) -> None:
        assert set(ServiceError.__subclasses__()) == set(EXPECTED)

    @pytest.mark.parametrize(
        ("error_class", "status", "default_code"),
        [(cls, status, code) for cls, (status, code) in EXPECTED.items()],
        ids=[cls.__name__ for cls in EXPECTED],
    )
    def test_subclass_has_its_status_and_default_code(
        self, error_class: type[ServiceError], status: grpc.StatusCode, default_code: str
    ) -> None:
        error = error_class("something went wrong")

        assert error.status is status
        assert error.code == default_code
        assert error.message == str(error) == "something went wrong"
        assert error.details == {}

    def test_base_is_internal(self) -> None:
        error = ServiceError("boom")

        assert error.status is grpc.StatusCode.INTERNAL
        assert error.code == "internal"

    def test_keeps_a_custom_code_and_details(self) -> None:
        error = errors.InvalidArgument("too short", code="password_too_short", field="password")

        assert error.code == "password_too_short"
        assert error.details == {"field": "password"}
        assert error.status is grpc.StatusCode.INVALID_ARGUMENT

    def test_custom_code_does_not_change_the_class_default(self) -> None:
        errors.NotFound("gone", code="contact_not_found")

        assert errors.NotFound("gone").code == "not_found"
