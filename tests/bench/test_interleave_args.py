"""bench/interleave.py reads its two builds from the environment and refuses what it cannot
use before starting any server."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.common import BenchError

from bench import interleave


def test_two_source_folders_or_two_databases(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    monkeypatch.delenv(interleave.TREES_ENV, raising=False)
    monkeypatch.delenv(interleave.DATABASES_ENV, raising=False)
    assert [t[1:] for t in interleave._trees()] == [(None, None), (None, None)]
    monkeypatch.setenv(interleave.TREES_ENV, f"old={tmp_path},new={tmp_path}")
    assert interleave._trees() == [("old", str(tmp_path), None), ("new", str(tmp_path), None)]
    monkeypatch.setenv(interleave.DATABASES_ENV, "a=postgresql://x/y,b=postgresql://x/z")
    with pytest.raises(BenchError, match="not both"):
        interleave._trees()
    monkeypatch.delenv(interleave.TREES_ENV)
    assert interleave._trees() == [("a", None, "postgresql://x/y"),
                                   ("b", None, "postgresql://x/z")]


@pytest.mark.parametrize("value", ["old=/no/such/folder,new=/no/such/folder", "only=/tmp",
                                   "a=/tmp,b=/tmp,c=/tmp", "nolabel"])
def test_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.delenv(interleave.DATABASES_ENV, raising=False)
    monkeypatch.setenv(interleave.TREES_ENV, value)
    with pytest.raises(BenchError):
        interleave._trees()
