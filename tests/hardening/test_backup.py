"""``schedo backup PATH``: an online SQLite backup taken while a real server ticks 10 jobs
every second opens, passes ``PRAGMA integrity_check`` and holds the jobs; a restored copy
serves; PostgreSQL URLs are refused with a pointer to pg_dump."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from schedo.cli.backup_cmd import BackupError, register, sqlite_file
from tests.support.server import ServerProcess, wait_until

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
    # restore without the key file: refused with a clear message, nothing served
    restored = tmp_path / "restored.db"
    (tmp_path / "copy-2.db").rename(restored)
    lost = ServerProcess(f"sqlite:///{restored}", tmp_path)
    lost.start(wait=False)
    assert lost.proc is not None and lost.proc.wait(30) == 1
    assert "is not the one this database's webhook signature keys were sealed with" in lost.log()
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


def test_no_key_leaves_the_key_out(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    sqlite3.connect(db).execute("CREATE TABLE jobs (id INTEGER)").connection.close()
    (tmp_path / "k.db.key").write_text("not used here\n")
    code, text = _backup(str(tmp_path / "a.db"), "--db", f"sqlite:///{db}", "--no-key")
    assert code == 0, text
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
