"""docs/sdk.md: every Python example runs (each block alone, in a fresh namespace), and the
generated reference is current (``python -m tests.docs.reference`` rewrites it)."""

from __future__ import annotations

import re

import pytest

from tests.docs.reference import PAGE, current, render

BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _blocks() -> list[str]:
    return BLOCK.findall(PAGE.read_text())


def test_the_page_has_examples() -> None:
    assert len(_blocks()) >= 4


@pytest.mark.parametrize("index", range(len(_blocks())))
def test_every_python_example_runs(index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCHEDO_API_KEY", raising=False)
    code = _blocks()[index]
    exec(compile(code, f"docs/sdk.md block {index + 1}", "exec"), {"__name__": "sdk_example"})


def test_the_reference_is_generated_from_the_docstrings() -> None:
    assert current(PAGE.read_text()) == render(), (
        "docs/sdk.md's reference is out of date: run python -m tests.docs.reference")
