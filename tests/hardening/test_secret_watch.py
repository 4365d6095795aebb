"""The suite-wide secret watch (tests/support/secret_watch.py) really catches leaks, and is
really installed for this run."""

from __future__ import annotations

import logging
from pathlib import Path

from schedo.server.observability import logs
from schedo.server.services import keys
from tests.support import secret_watch
from tests.support.secret_watch import SecretWatch, WatchHandler


def _logger(watch: SecretWatch) -> logging.Logger:
    log = logging.getLogger("schedo.watch-test")
    log.propagate = False
    log.handlers[:] = [WatchHandler(watch, logs.formatter("json"))]
    log.setLevel(logging.DEBUG)
    return log


def test_a_secret_logged_in_clear_is_found_and_a_fragment_is_not(tmp_path: Path) -> None:
    w = SecretWatch()
    log = _logger(w)
    made = w.wrap(lambda: "sk_" + "a1B2" * 10)()
    log.debug("key.prefix prefix=%s", made[:10])
    assert w.leaks() == []
    log.debug("oops key=%s", made)
    assert w.leaks() == ["sk_a1B…"] and "oops" in w.events
    # a non-token secret (the base64 sealing key) is checked as a substring
    w2 = SecretWatch()
    w2.secret("c2VjcmV0+/c2VjcmV0==")
    _logger(w2).info("{'k': 'c2VjcmV0+/c2VjcmV0=='}")
    assert len(w2.leaks()) == 1


def test_responses_name_their_secrets_but_job_keys_are_not_secrets() -> None:
    w = SecretWatch()
    w.scan_response(b'[{"id":1,"key":"sk_AAAAAAAAAAAAAAAAAAAAAAAA","name":"w"},'
                    b'{"webhook_signature_key": "BBBBBBBBBBBBBBBBBBBBBBBB"},'
                    b'{"key":"nightly-backup-job-name","name":"x"}]')
    assert w.secrets == {"sk_AAAAAAAAAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBBBBBBBBB"}
    # error bodies are where secrets must not be; one echoing a secret is found
    w.scan_response(b'{"message":"name: \'sk_AAAAAAAAAAAAAAAAAAAAAAAA\' is invalid"}', 400,
                    "POST /jobs/definition")
    w.scan_response(b'{"message":"not found"}', 404)
    assert w.error_leaks() == ["sk_AAA… (POST /jobs/definition 400)"] and w.errors == 2
    assert "sk_AAAAAAAAAAAAAAAAAAAAAAAA" in w.secrets  # an error body names no new secret


def test_server_log_files_are_scanned_except_the_admin_key_banner(tmp_path: Path) -> None:
    w = SecretWatch()
    key = w.secret("sk_generated_admin_key_0123456789")
    f = tmp_path / "server.log"
    f.write_text("schedo: serving\n\n  Admin API key (shown once; keep it safe):\n\n"
                 f"    {key}\n\n  Set SCHEDO_ADMIN_KEY to choose it yourself.\n")
    w.files.append(f)
    assert w.leaks() == []
    f.write_text(f.read_text() + f'{{"event": "auth.ok key={key}"}}\n')
    w.files.append(f)
    assert w.leaks() == ["sk_gen…"]


def test_the_watch_is_live_in_this_run() -> None:
    root = logging.getLogger()
    assert root.level == logging.DEBUG
    assert any(isinstance(h, WatchHandler) for h in root.handlers)
    before = secret_watch.WATCH.records
    logging.getLogger("schedo.watch-live").debug("watch.alive")
    assert secret_watch.WATCH.records == before + 1
    assert keys.new_secret() in secret_watch.WATCH.secrets
    assert logging.getLogger("sqlalchemy").level == logging.WARNING


def test_log_files_below_the_temp_roots_are_scanned(tmp_path: Path) -> None:
    w = SecretWatch()
    key = w.secret("sk_worker_seen_key_0123456789abc")
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "worker-1.log").write_text(f"INFO worker started key={key[:8]}\n")
    (tmp_path / "a" / "notes.txt").write_text(key)  # not a log file
    w.roots.append(tmp_path)
    assert w.leaks() == []
    (tmp_path / "a" / "b" / "worker-2.log").write_text(f"DEBUG pulling with {key}\n")
    assert w.leaks() == ["sk_wor…"]
