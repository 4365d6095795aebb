"""The mail itself: headers stay one line, parts carry what a reader needs."""

from __future__ import annotations

from datetime import UTC, datetime

from schedo.server.notify import render
from schedo.server.storage.contracts import Notification

T = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def notification(**kw: object) -> Notification:
    base: dict[str, object] = dict(
        id=7, kind="failing", organization_id=1, environment_id=3, job_id=12,
        job_name="nightly-report", execution_id=99, execution_status="failed", attempt=2,
        scheduled_for=T, ended_at=T.replace(second=42), error="Traceback: boom",
        output="processing rows", created_at=T.replace(second=42),
    )
    base.update(kw)
    return Notification(**base)  # type: ignore[arg-type]


def test_subjects() -> None:
    assert render.subject(notification()) == "[Schedo] nightly-report is failing"
    assert render.subject(notification(kind="recovered")) == "[Schedo] nightly-report recovered"
    assert render.subject(notification(job_name="evil\r\nBcc: x@y")) == (
        "[Schedo] evil Bcc: x@y is failing")


def test_message_parts_and_headers() -> None:
    n = notification()
    r = render.render(n, "staging", "https://schedo.example.com/")
    msg = render.message(r, n, sender="Schedo <schedo@example.com>", recipient="a@example.com")
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    for part in (text.get_content(), html.get_content()):  # type: ignore[attr-defined]
        assert "https://schedo.example.com/ui/jobs/12/runs/99" in part
        assert "staging (id 3)" in part
        assert "attempt 2" in part
        assert "2026-11-28T12:00:00Z" in part and "2026-11-28T12:00:42Z" in part
        assert "Traceback: boom" in part and "processing rows" in part
    assert msg["Message-ID"].endswith("@example.com>")
    assert msg["X-Schedo-Notification"] == "7"


def test_long_error_is_clipped_and_no_output_section_when_empty() -> None:
    n = notification(error="e" * 10_000, output=None)
    r = render.render(n, None, "http://x")
    assert "[truncated]" in r.text
    assert "Output" not in r.text
    assert "Environment:    3" in r.text
