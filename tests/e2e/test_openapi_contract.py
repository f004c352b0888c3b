"""The published contract holds: schemathesis generates requests for every operation of
the live gateway's /openapi.json, sent with a real owner's token, and no answer is a 5xx
or contradicts the schema (status code, content type, body)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.openapi import from_url
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from crm_devstack.stack import Stack

from .conftest import DEFAULT_LIMIT_PER_SECOND, Account, sign_up

pytestmark = pytest.mark.e2e

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 5}

# Below the per-user limit, so the run tests the routes rather than the limiter.
PAUSE_SECONDS = 1.5 / DEFAULT_LIMIT_PER_SECOND


def _sign_up_owner(gateway_url: str) -> Account:
    async def run() -> Account:
        async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as api:
            return await sign_up(api, "Contract")

    return asyncio.run(run())


def _operations(stack: Stack) -> list[APIOperation]:
    loaded = from_url(f"{stack.gateway_url}/openapi.json")
    return [result.ok() for result in loaded.get_all_operations()]


def _failures_of(operation: APIOperation, mode: GenerationMode, owner: Account) -> str | None:
    """Runs the operation's bounded, derandomized examples; the first failure, if any."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case) -> None:
        time.sleep(PAUSE_SECONDS)
        case.call_and_validate(headers=owner.headers, checks=CHECKS, timeout=30)

    try:
        run()
    except Unsatisfiable:
        return None  # nothing to get wrong: the operation takes no input
    except (AssertionError, BaseExceptionGroup) as exc:
        return f"{mode} {operation.label}: {exc}"
    return None


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_conforms(stack: Stack, mode: GenerationMode) -> None:
    operations = _operations(stack)
    assert len(operations) > 40
    failures = []
    for operation in operations:
        # A fresh owner (and tenant) per operation: its own rate-limit budget, and what
        # one operation's examples do (end every session, suspend the tenant, change
        # the password) cannot leak into another's, so no operation is left out.
        owner = _sign_up_owner(stack.gateway_url)
        failure = _failures_of(operation, mode, owner)
        if failure:
            failures.append(failure)
    assert not failures, "\n\n".join(failures)
