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
    ("schedo.server.services.live", "LINE_MAX", "LIVE_LINE_MAX"),
    ("schedo.server.services.live", "BATCH_MAX_LINES", "LIVE_BATCH_MAX_LINES"),
    ("schedo.server.services.live", "MAX_WATCH_IDS", "CANCEL_WATCH_MAX_IDS"),
    ("schedo.server.domain.targets", "MAX_TAGS", "TAGS_MAX"),
]


NOT_COPIES = {
    ("schedo/server/push/http.py", "DEFAULT_MAX_BODY"): "the cap on a webhook's response "
    "body read by the push client (64 KiB as well, by choice, not the output bound)",
}
"""Bounds equal to a shared one by value but of another concept, and why."""

ALLOWED_EQUAL = {10, 100, 200, 1000}
"""Round numbers several unrelated bounds share by chance (10 tries, a page of 200, a batch of
1,000): a literal equal to one of them is not taken for a copy."""


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


def test_the_cli_and_the_live_sdk_use_the_same_bounds() -> None:
    from schedo.cli import agent_exec, runs_cmd
    from schedo.sdk import cancel_watch, live_log

    assert live_log.LINE_MAX == agent_exec.LIVE_LINE_MAX == limits.LIVE_LINE_MAX
    assert cancel_watch.MAX_IDS == limits.CANCEL_WATCH_MAX_IDS
    assert agent_exec.OUTPUT_LIMIT == limits.OUTPUT_MAX_BYTES
    assert runs_cmd.RUNS_PAGE_MAX == limits.PAGE_MAX


def test_the_sdk_reports_in_batches_the_server_takes() -> None:
    from schedo.sdk import reports
    from schedo.server.api.models import BatchCompleteIn

    assert reports.MAX_BATCH <= limits.REPORT_BATCH_MAX
    cap = [m for m in BatchCompleteIn.model_fields["results"].metadata
           if hasattr(m, "max_length")]
    assert [m.max_length for m in cap] == [limits.REPORT_BATCH_MAX]


def _number(node: object) -> object:
    """The value of a literal integer expression (``64 * 1024``, ``2**31 - 1``), else None."""
    import ast
    import operator

    ops = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Pow: operator.pow}
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in ops:
        left, right = _number(node.left), _number(node.right)
        if isinstance(left, int) and isinstance(right, int):
            return ops[type(node.op)](left, right)
    return None


def test_no_module_defines_a_shared_bound_again() -> None:
    """No module of ``src/schedo`` assigns a literal number equal to a shared bound to a name
    that looks like a bound (``*_MAX*``, ``MAX_*``, ``*_LIMIT``): it imports the bound."""
    import ast
    from pathlib import Path

    shared = {v for k, v in vars(limits).items() if k.isupper() and isinstance(v, int)}
    root = Path(limits.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "limits.py" and path.parent == root:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Assign) or len(node.targets) != 1:
                continue
            target = node.targets[0]
            if not isinstance(target, ast.Name) or not any(
                w in target.id for w in ("MAX", "LIMIT")
            ):
                continue
            value = _number(node.value)
            if (path.relative_to(root.parent).as_posix(), target.id) in NOT_COPIES:
                continue
            if isinstance(value, int) and value in shared and value not in ALLOWED_EQUAL:
                found.append(f"{path.relative_to(root.parent)}:{node.lineno}: {target.id} = "
                             f"{value}: import it from schedo.limits")
    assert not found, "\n".join(found)
