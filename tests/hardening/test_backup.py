"""``schedo backup PATH``: an online SQLite backup taken while a real server ticks 10 jobs
every second opens, passes ``PRAGMA integrity_check`` and holds the jobs; a restored copy
serves; restored without its key file, ``schedo serve`` refuses naming the file and the ways
back and makes no new key, until the key is restored or the signature keys are reset;
PostgreSQL URLs are refused with a pointer to pg_dump."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from schedo.cli.backup_cmd import BackupError, register, sqlite_file
from tests.support.server import ServerProcess, child_env, wait_until

JOBS = 10


def _cli() -> typer.Typer:
    """The ``schedo`` app as ``cli/app.py`` builds it once ``register`` is wired there."""
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """schedo"""

    register(app)
    return app


def _backup(*args: str) -> tuple[int, str]:
    # as on a server using its key file (the suite sets SCHEDO_SECRET_KEY for itself)
    res = CliRunner().invoke(_cli(), ["backup", *args], env={"SCHEDO_SECRET_KEY": None})
    return res.exit_code, res.output


def _check(path: Path) -> tuple[str, int, int, str]:
    conn = sqlite3.connect(path)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        jobs = conn.execute("SELECT count(*) FROM jobs").fetchone()[0]
        runs = conn.execute("SELECT count(*) FROM executions").fetchone()[0]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()
    return integrity, jobs, runs, mode


@pytest.mark.slow
def test_backup_while_serving_is_consistent_and_restores(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    url = f"sqlite:///{db}"
    srv = ServerProcess(url, tmp_path).start()
    try:
        with srv.client() as c:
            for i in range(JOBS):
                r = c.post("/jobs/definition",
                           json={"name": f"backup-{i:02d}", "schedule": "* * * * * *"})
                assert r.status_code == 200, r.text
            sig_key = c.get("/org/environments").json()[0]["webhook_signature_key"]
        wait_until(lambda: _runs(srv) >= 3 * JOBS, 20, what="some ticks")
        sizes = []
        for n in range(3):  # several copies while the ticker writes every second
            out = tmp_path / f"copy-{n}.db"
            code, text = _backup(str(out), "--db", url, "--json")
            assert code == 0, text
            result = json.loads(text)
            assert result["integrity"] == "ok" and result["jobs"] == JOBS
            # the sealing key file comes with it, private, byte for byte
            assert result["key"] == f"{out}.key"
            assert Path(result["key"]).read_bytes() == Path(f"{db}.key").read_bytes()
            assert Path(result["key"]).stat().st_mode & 0o777 == 0o600
            integrity, jobs, runs, mode = _check(out)
            assert (integrity, jobs, mode) == ("ok", JOBS, "delete")
            assert runs >= 3 * JOBS
            assert not Path(str(out) + "-wal").exists()
            sizes.append(runs)
            time.sleep(1.1)
        assert sizes == sorted(sizes) and sizes[-1] > sizes[0]
        # existing target: refused without --force, replaced with it
        code, text = _backup(str(tmp_path / "copy-0.db"), "--db", url)
        assert code == 2 and "--force" in text
        code, text = _backup(str(tmp_path / "copy-0.db"), "--db", url, "--force")
        assert code == 0, text
        # a folder: a dated file inside it
        (tmp_path / "backups").mkdir()
        code, text = _backup(str(tmp_path / "backups"), "--db", url)
        assert code == 0, text
        [dated] = list((tmp_path / "backups").glob("schedo-*.db"))
        assert _check(dated)[0] == "ok"
    finally:
        srv.stop()
    # restore without the key file: refused with a clear message, nothing served, and no
    # new (wrong) key made in its place: restarting says the same, restoring the key works
    restored = tmp_path / "restored.db"
    (tmp_path / "copy-2.db").rename(restored)
    for _ in range(2):
        refused_without_key(restored, tmp_path)
    # restore (docs/hardening.md): the copy and its key in place of the database and its key
    (tmp_path / "copy-2.db.key").replace(tmp_path / "restored.db.key")
    srv = ServerProcess(f"sqlite:///{restored}", tmp_path).start()
    try:
        with srv.client() as c:
            names = sorted(j["name"] for j in c.get("/jobs").json())
            assert names == [f"backup-{i:02d}" for i in range(JOBS)]
            assert c.get("/org/environments").json()[0]["webhook_signature_key"] == sig_key
    finally:
        srv.stop()


def refused_without_key(db: Path, workdir: Path) -> None:
    """``schedo serve`` on ``db`` without its key file exits 1 naming the missing file and the
    ways back, and leaves no key file behind."""
    key = Path(f"{db}.key")
    assert not key.exists()
    lost = ServerProcess(f"sqlite:///{db}", workdir)
    lost.start(wait=False)
    assert lost.proc is not None and lost.proc.wait(30) == 1, lost.log()
    log = lost.log()
    assert f"secret key file {key} does not exist" in log, log
    for hint in ("<backup>.key", "SCHEDO_SECRET_KEY or SCHEDO_SECRET_KEY_FILE",
                 "schedo reset-signature-keys"):
        assert hint in log, (hint, log)
    assert not key.exists(), "a new key was made for a database sealed with another one"
    assert not list(workdir.glob(f".{key.name}.*.tmp"))


def test_restore_without_the_key_is_refused_until_the_keys_are_reset(tmp_path: Path) -> None:
    """A backup kept apart from its key (``--no-key``) and restored alone: ``schedo serve``
    refuses and makes no key; ``schedo reset-signature-keys`` is the way back (new signature
    keys, a new key file); a fresh database still gets its key file at first start."""
    live, spare = tmp_path / "live", tmp_path / "spare"
    live.mkdir()
    spare.mkdir()
    db = live / "schedo.db"
    srv = ServerProcess(f"sqlite:///{db}", live).start()
    try:
        assert Path(f"{db}.key").stat().st_mode & 0o777 == 0o600  # a fresh database: made
        with srv.client() as c:
            r = c.post("/jobs/definition", json={"name": "kept-job", "schedule": "0 3 * * *"})
            assert r.status_code == 200, r.text
            old_key = c.get("/org/environments").json()[0]["webhook_signature_key"]
        code, text = _backup(str(spare / "schedo.db"), "--db", f"sqlite:///{db}", "--no-key")
        assert code == 0, text
    finally:
        srv.stop()
    assert not (spare / "schedo.db.key").exists()
    refused_without_key(spare / "schedo.db", spare)
    url = f"sqlite:///{spare / 'schedo.db'}"
    reset = subprocess.run([sys.executable, "-m", "schedo.cli", "reset-signature-keys",
                            "--db", url, "--yes"], env=child_env(), capture_output=True,
                           text=True, timeout=60)
    assert reset.returncode == 0 and "1 environment(s): production" in reset.stdout, reset
    assert (spare / "schedo.db.key").stat().st_mode & 0o777 == 0o600
    srv = ServerProcess(url, spare).start()
    try:
        with srv.client() as c:
            assert [j["name"] for j in c.get("/jobs").json()] == ["kept-job"]
            new_key = c.get("/org/environments").json()[0]["webhook_signature_key"]
            assert new_key and new_key != old_key
    finally:
        assert srv.stop() == 0


def test_no_key_leaves_the_key_out(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    sqlite3.connect(db).execute("CREATE TABLE jobs (id INTEGER)").connection.close()
    (tmp_path / "k.db.key").write_text("not used here\n")
    code, text = _backup(str(tmp_path / "a.db"), "--db", f"sqlite:///{db}", "--no-key")
    assert code == 0 and "sealing key left out (--no-key)" in text, text
    assert not (tmp_path / "a.db.key").exists()
    code, text = _backup(str(tmp_path / "b.db"), "--db", f"sqlite:///{db}")
    assert code == 0 and "sealing key copied" in text, text
    assert (tmp_path / "b.db.key").read_text() == "not used here\n"


def _runs(srv: ServerProcess) -> int:
    with srv.client() as c:
        return sum(len(c.get(f"/jobs/executions/{j['id']}?limit=200").json())
                   for j in c.get("/jobs").json())


def test_postgres_and_memory_urls_are_refused(tmp_path: Path) -> None:
    code, text = _backup(str(tmp_path / "x.db"), "--db", "postgresql://u:p@db/schedo")
    assert code == 2 and "pg_dump" in text
    code, text = _backup(str(tmp_path / "x.db"), "--db", "sqlite://")
    assert code == 2 and "in-memory" in text
    code, text = _backup(str(tmp_path / "x.db"), "--db", f"sqlite:///{tmp_path / 'nope.db'}")
    assert code == 2 and "does not exist" in text


def test_backup_refuses_to_overwrite_its_source(tmp_path: Path) -> None:
    db = tmp_path / "self.db"
    sqlite3.connect(db).close()
    code, text = _backup(str(db), "--db", f"sqlite:///{db}", "--force")
    assert code == 2 and "itself" in text


def test_sqlite_url_forms() -> None:
    assert sqlite_file("sqlite:///schedo.db") == Path("schedo.db")
    assert sqlite_file("sqlite:////var/lib/schedo/s.db") == Path("/var/lib/schedo/s.db")
    assert sqlite_file("sqlite+aiosqlite:///a/b.db?timeout=5") == Path("a/b.db")
    with pytest.raises(BackupError, match="pg_dump"):
        sqlite_file("postgres://x/y")
    with pytest.raises(BackupError, match="unsupported"):
        sqlite_file("mysql://x/y")


def test_backup_of_a_stopped_wal_database(tmp_path: Path) -> None:
    db = tmp_path / "wal.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY)")
    conn.execute("INSERT INTO jobs VALUES (1)")
    conn.commit()
    conn.close()
    code, text = _backup(str(tmp_path / "out.db"), "--db", f"sqlite:///{db}")
    assert code == 0, text
    assert _check_jobs(tmp_path / "out.db") == 1


def _check_jobs(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM jobs").fetchone()[0])
    finally:
        conn.close()


def test_no_key_file_copied_when_the_key_is_in_the_environment(tmp_path: Path) -> None:
    db = tmp_path / "e.db"
    sqlite3.connect(db).execute("CREATE TABLE jobs (id INTEGER)").connection.close()
    (tmp_path / "e.db.key").write_text("stale\n")
    res = CliRunner().invoke(_cli(), ["backup", str(tmp_path / "c.db"), "--db",
                                      f"sqlite:///{db}"], env={"SCHEDO_SECRET_KEY": "x" * 44})
    assert res.exit_code == 0 and "keep that key with this backup" in res.output, res.output
    assert not (tmp_path / "c.db.key").exists()
