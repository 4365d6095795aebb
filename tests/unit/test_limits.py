"""``schedo.limits`` is the one definition of the bounds the SDK and the server share (issue 17).

The modules that import it use its values by construction; the server modules that still
keep a local name for a bound (imported from ``schedo.limits``) are listed in ``COPIES``: each
must equal the shared value. A new literal copy is not caught here: grep for the number.
"""

from __future__ import annotations

import importlib

import pytest

from schedo import limits

COPIES = [
    # (module, its name for the bound, the shared name)
    ("schedo.server.services.runs", "OUTPUT_MAX", "OUTPUT_MAX_BYTES"),
    ("schedo.server.services.runs", "ERROR_MAX", "ERROR_MAX_BYTES"),
    ("schedo.server.services.pull", "MAX_LIMIT", "PULL_MAX_RUNS"),
    ("schedo.server.services.pull", "MAX_CODES", "PULL_MAX_CODES"),
    ("schedo.server.api.pull", "JOBS_MAX_CHARS", "PULL_JOBS_MAX_CHARS"),
    ("schedo.server.api.middleware", "MAX_JSON_DEPTH", "JSON_MAX_DEPTH"),
]


@pytest.mark.parametrize(("module", "name", "shared"), COPIES)
def test_a_copy_of_a_shared_bound_agrees_with_it(module: str, name: str, shared: str) -> None:
    value = getattr(importlib.import_module(module), name, None)
    assert value is not None, f"{module}.{name} is gone: delete its row in COPIES"
    assert value == getattr(limits, shared), f"{module}.{name}: import limits.{shared}"


def test_the_sdk_and_the_server_use_the_same_bounds() -> None:
    from schedo.sdk import app, runner, worker
    from schedo.server.api import deps
    from schedo.server.services import validation

    for name in ("NAME_MIN", "NAME_MAX", "TIMEOUT_MAX", "RETRIES_MAX", "METADATA_MAX_BYTES",
                 "METADATA_MAX_KEYS"):  # fmt: skip
        assert getattr(app, name) is getattr(validation, name) is getattr(limits, name), name
    assert app.METADATA_MAX_DEPTH == limits.JSON_MAX_DEPTH - 1  # the body is one level
    assert runner.OUTPUT_MAX_BYTES == limits.OUTPUT_MAX_BYTES
    assert runner.ERROR_MAX_BYTES == limits.ERROR_MAX_BYTES
    assert worker.MAX_PULL == limits.PULL_MAX_RUNS
    assert worker.MAX_CODES_PER_PULL == limits.PULL_MAX_CODES
    assert worker.MAX_CODES_CHARS < limits.PULL_JOBS_MAX_CHARS
    assert deps.MAX_ID == limits.MAX_ID == 2**31 - 1
