"""Invitation mails (issue 22) through the same SMTP path as notifications
(``SCHEDO_SMTP_URL``, ``SCHEDO_MAIL_FROM``). The app hands ``mailer_for(settings)`` to the
dashboard (``app.state.mailer``); None when no SMTP server is configured."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

from ..config import Settings
from ..services.people import Mailer
from . import smtp
from .sender import parse


def mailer_for(settings: Settings) -> Mailer | None:
    cfg = parse(settings.smtp_url)
    if cfg is None:
        return None
    sender = settings.mail_from

    async def send(to: str, subject: str, text: str) -> str | None:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = sender, to, subject
        msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
        msg.set_content(text)
        outcome = await smtp.send(cfg, msg, sender, to)
        return None if outcome.ok else outcome.error or "not sent"

    return send
