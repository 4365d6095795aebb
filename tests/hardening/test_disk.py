"""A full disk or a read-only database: the server reports not-ready on /readyz (and stays
alive on /healthz), keeps no half-written state, and is ready again once writes succeed.

The database lives on a small tmpfs mounted for the test (root only; the tests run as root in
CI), and the disk is made full by filling that file system.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from schedo.server.storage.db_errors import storage_failure
from tests.support.server import ServerProcess, wait_until


@contextlib.contextmanager
def small_fs(where: Path, size: str = "24m") -> Iterator[Path]:
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(where)], capture_output=True)
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def readyz(srv: ServerProcess) -> httpx.Response:
    return httpx.get(srv.url + "/readyz", timeout=5)


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def test_read_only_and_io_errors_are_storage_failures(tmp_path: Path) -> None:
    """What /readyz treats as "not writable", on real driver errors. (A read-only remount of
    a file system the server has open is refused by the kernel, so this is checked at the
    error level; the full disk below is end to end.)"""
    db = tmp_path / "ro.db"
    sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.commit()
    ro = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as exc:
        ro.execute("INSERT INTO t VALUES (1)")
    ro.close()
    reason = storage_failure(exc.value)
    assert reason is not None and reason.startswith("SQLITE_READONLY")
    wrapped = RuntimeError("statement failed")
    wrapped.__cause__ = exc.value
    assert storage_failure(wrapped) == reason
    conn = sqlite3.connect(db)
    with pytest.raises(sqlite3.IntegrityError) as refused:
        conn.execute("CREATE TABLE u (x UNIQUE)")
        conn.execute("INSERT INTO u VALUES (1)")
        conn.execute("INSERT INTO u VALUES (1)")
    conn.close()
    assert storage_failure(refused.value) is None  # a refused statement is not the disk


def test_full_disk_is_not_ready_then_recovers(tmp_path: Path) -> None:
    with small_fs(tmp_path / "fs") as fs:
        db = fs / "schedo.db"
        srv = ServerProcess(f"sqlite:///{db}", tmp_path).start()
        filler = fs / "filler"
        try:
            with srv.client() as c:
                for i in range(20):
                    r = c.post("/jobs/definition",
                               json={"name": f"full-job-{i:02d}", "schedule": "* * * * * *",
                                     "metadata": {"pad": "x" * 2000}})
                    assert r.status_code == 200, r.text
                # fill the file system to the last byte
                # (unbuffered: a partial write leaves nothing for close() to fail on)
                with contextlib.suppress(OSError), open(filler, "wb", buffering=0) as f:
                    while True:
                        f.write(b"\0" * 65536)
                wait_until(lambda: readyz(srv).status_code == 503, 60, what="not ready")
                assert "database not writable" in readyz(srv).json()["message"]
                assert httpx.get(srv.url + "/healthz", timeout=5).status_code == 200
                filler.unlink()
                wait_until(lambda: readyz(srv).status_code == 200, 30, what="ready again")
                r = c.post("/jobs/definition",
                           json={"name": "after-full", "schedule": "* * * * *"})
                assert r.status_code == 200, r.text
        finally:
            filler.unlink(missing_ok=True)
            srv.stop()
        assert integrity(db) == "ok"
