"""The issue-19 notice kinds read right in a mail and in a Slack message."""

from __future__ import annotations

from schedo.server.notify import render, slack
from tests.notify.test_render import notification


def test_each_kind_has_its_words() -> None:
    words = {"slow": "ran longer than its max_duration_seconds",
             "no_success": "has not succeeded within its success_within_seconds window",
             "paused": "was paused after repeated failures",
             "reminder": "is still failing"}
    for kind, text in words.items():
        n = notification(kind=kind)
        assert render.subject(n) == f"[Schedo] nightly-report {text}"
        mail = render.render(n, "prod", "https://s.example.com")
        assert f'Job "nightly-report" {text}.' in mail.text
        assert "one more mail when the job recovers" not in mail.text
        first = slack.text(n, "https://s.example.com").splitlines()[0]
        assert first == f'Schedo: job "nightly-report" {text}'
    msg = slack.text(notification(), "https://s.example.com")
    assert msg.splitlines()[1:] == [
        "Run 99 (attempt 2, failed), scheduled for 2026-11-28T12:00:00Z",
        "Error: Traceback: boom", "https://s.example.com/ui/jobs/12/runs/99"]
