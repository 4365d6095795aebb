"""``schedo.webhooks``: requests signed by an independent HMAC computation are accepted;
tampered, badly signed, stale or incomplete ones are refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import schedo
from schedo import SchedoError, WebhookVerificationError, webhooks
from tests.support.server import ADMIN_KEY, ServerProcess, wait_until

SECRET = "whk_environment_secret_0123456789"
NOW = 1_795_000_000
BODY = json.dumps(
    {
        "execution_id": 42,
        "job_id": 7,
        "job_code": "nightly-report",
        "scheduled_for": "2026-11-28T02:00:00Z",
        "attempt": 1,
        "metadata": {"team": "data"},
        "environment_id": 1,
    },
    separators=(",", ":"),
).encode()


def signed_headers(
    body: bytes = BODY, secret: str = SECRET, msg_id: str = "msg_42_1", timestamp: int = NOW
) -> dict[str, str]:
    """What the server sends, computed here without the SDK (SPEC 2.4)."""
    key = secret.encode("utf-8")
    hex_sig = hmac.new(key, body, hashlib.sha256).hexdigest()
    std = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "X-Schedo-Signature": hex_sig,
        "Webhook-Id": msg_id,
        "Webhook-Timestamp": str(timestamp),
        "Webhook-Signature": "v1," + base64.b64encode(std).decode(),
    }


def test_accepts_a_correctly_signed_request() -> None:
    payload = webhooks.verify(BODY, signed_headers(), SECRET, now=NOW + 10)
    assert payload["execution_id"] == 42 and payload["metadata"] == {"team": "data"}


def test_header_names_are_case_insensitive() -> None:
    lower = {k.lower(): v for k, v in signed_headers().items()}
    upper = {k.upper(): v for k, v in signed_headers().items()}
    assert webhooks.verify(BODY, lower, SECRET, now=NOW)["job_id"] == 7
    assert webhooks.verify(BODY, upper, SECRET, now=NOW)["job_id"] == 7


def test_any_matching_v1_entry_is_enough() -> None:
    h = signed_headers()
    other = base64.b64encode(b"x" * 32).decode()
    h["Webhook-Signature"] = f"v1,{other} v2,abc {h['Webhook-Signature']}"
    assert webhooks.verify(BODY, h, SECRET, now=NOW)["attempt"] == 1


def test_sign_matches_the_independent_computation() -> None:
    ours = webhooks.sign(BODY, SECRET, "msg_42_1", NOW)
    theirs = {k.lower(): v for k, v in signed_headers().items() if k != "Content-Type"}
    assert ours == theirs


def _refused(
    headers: dict[str, str], body: bytes = BODY, secret: str = SECRET, now: float = NOW
) -> str:
    with pytest.raises(WebhookVerificationError) as err:
        webhooks.verify(body, headers, secret, now=now)
    assert isinstance(err.value, SchedoError)
    return str(err.value)


def test_refuses_a_tampered_body() -> None:
    tampered = BODY.replace(b'"attempt":1', b'"attempt":2')
    assert "x-schedo-signature" in _refused(signed_headers(), body=tampered)


def test_refuses_a_bad_hex_signature() -> None:
    h = signed_headers()
    h["X-Schedo-Signature"] = "0" * 64
    assert "x-schedo-signature" in _refused(h)


def test_refuses_a_bad_standard_signature() -> None:
    h = signed_headers()
    h["Webhook-Signature"] = "v1," + base64.b64encode(b"\0" * 32).decode()
    assert "webhook-signature" in _refused(h)
    h["Webhook-Signature"] = "v1,not base64!!"
    assert "webhook-signature" in _refused(h)
    h["Webhook-Signature"] = "v1a," + signed_headers()["Webhook-Signature"][3:]
    assert "no v1 signature" in _refused(h)


def test_refuses_a_signature_made_with_another_secret() -> None:
    assert "signature" in _refused(signed_headers(secret="another-secret-entirely"))


def test_refuses_a_replayed_id_or_timestamp() -> None:
    h = signed_headers()
    h["Webhook-Id"] = "msg_other"
    assert "webhook-signature" in _refused(h)
    h = signed_headers()
    h["Webhook-Timestamp"] = str(NOW + 1)  # changed but still fresh: the signature breaks
    assert "webhook-signature" in _refused(h)


def test_refuses_old_and_future_timestamps() -> None:
    assert "too old" in _refused(signed_headers(timestamp=NOW - 301))
    assert "future" in _refused(signed_headers(timestamp=NOW + 301))
    assert webhooks.verify(BODY, signed_headers(timestamp=NOW - 299), SECRET, now=NOW)
    with pytest.raises(WebhookVerificationError, match="too old"):
        webhooks.verify(BODY, signed_headers(timestamp=NOW - 61), SECRET, tolerance=60, now=NOW)
    h = signed_headers()
    h["Webhook-Timestamp"] = "yesterday"
    assert "Unix seconds" in _refused(h)


@pytest.mark.parametrize(
    "missing", ["X-Schedo-Signature", "Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"]
)
def test_refuses_a_missing_header(missing: str) -> None:
    h = signed_headers()
    del h[missing]
    assert f"missing header {missing.lower()}" == _refused(h)


def test_refuses_a_body_that_is_not_a_json_object() -> None:
    body = b"[1, 2, 3]"
    assert "JSON object" in _refused(signed_headers(body=body), body=body)
    body = b"not json"
    assert "JSON" in _refused(signed_headers(body=body), body=body)


def test_uses_the_current_time_by_default() -> None:
    headers = webhooks.sign(BODY, SECRET, "msg_now")
    assert webhooks.verify(BODY, headers, SECRET)["job_code"] == "nightly-report"


def test_verifies_a_real_push_from_the_server(tmp_path: Path) -> None:
    """A real server pushes to a receiver on loopback that checks it with ``verify``."""
    results: list[dict[str, Any] | str] = []
    secret_box: list[str] = []

    class Receiver(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # the http.server API names it so
            body = self.rfile.read(int(self.headers["content-length"]))
            try:
                results.append(webhooks.verify(body, self.headers, secret_box[0]))
                status, answer = 200, b"verified"
            except WebhookVerificationError as exc:
                results.append(str(exc))
                status, answer = 401, str(exc).encode()
            self.send_response(status)
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    srv = ServerProcess(
        f"sqlite:///{tmp_path / 'push.db'}",
        tmp_path,
        extra_env={"SCHEDO_ALLOW_PRIVATE_WEBHOOKS": "1"},
    ).start()
    try:
        with schedo.Client(ADMIN_KEY, srv.url) as c:
            secret_box.append(c.list_environments()[0].webhook_signature_key or "")
            url = f"http://127.0.0.1:{httpd.server_address[1]}/hook"
            job = c.define_job("push-verified", "0 0 1 1 *", webhook_url=url)
            run = c.trigger_job(job.id)
            done = wait_until(
                lambda: next(
                    (e for e in c.list_executions(job.id) if e.id == run.id and e.end_time),
                    None,
                ),
                20,
                what="the push to complete",
            )
        assert results and isinstance(results[0], dict), results
        assert results[0]["execution_id"] == run.id and results[0]["job_code"] == "push-verified"
        assert done.status == "completed" and done.output == "verified"
    finally:
        srv.kill()
        httpd.shutdown()
