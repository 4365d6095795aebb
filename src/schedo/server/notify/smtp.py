"""The SMTP transport: ``SCHEDO_SMTP_URL`` and sending one message with aiosmtplib.

URL forms::

    smtp://host                      port 25, STARTTLS if the server offers it
    smtp://user:pass@host:587?starttls=1
                                     STARTTLS required (default port 587 with starttls=1)
    smtp://host:25?starttls=0        never STARTTLS (a local relay)
    smtps://user:pass@host           TLS from the first byte, port 465

User and password are percent-decoded (``%40`` for ``@`` in a user name, ``%2F`` for ``/``).
Query options: ``starttls`` (1/0), ``timeout`` (seconds per connection, default 20, at most
60 so one send always ends well inside the delivery lease), ``verify`` (0 skips certificate
checks, for relays with a self-signed certificate). Unknown options are refused, so a typo
does not silently weaken TLS.

Errors: a recipient the server refuses with a 5xx code (550 "no such user") and a message the
server refuses with 5xx after DATA are permanent failures of that one delivery; everything else
(connection refused, timeouts, 4xx answers, authentication or sender problems the operator
can fix) is retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qsl, unquote, urlsplit

from . import SENT, Outcome

DEFAULT_TIMEOUT = 20.0
MAX_TIMEOUT = 60.0
ERROR_MAX = 500
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool  # smtps: implicit TLS
    start_tls: bool | None  # True: required; False: never; None: when the server offers it
    validate_certs: bool
    timeout: float

    def describe(self) -> str:
        """The server without credentials, for logs."""
        return f"{'smtps' if self.use_tls else 'smtp'}://{self.host}:{self.port}"


def _flag(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise ValueError(f"SCHEDO_SMTP_URL: {name} must be 1 or 0, not {value!r}")


def parse_smtp_url(url: str) -> SmtpConfig:
    """Read an SMTP URL (see the module docstring); ValueError naming what is wrong."""
    try:
        u = urlsplit(url.strip())
        port = u.port
    except ValueError as exc:
        raise ValueError(f"SCHEDO_SMTP_URL: cannot parse it ({exc})") from None
    scheme = u.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise ValueError(f"SCHEDO_SMTP_URL: scheme must be smtp or smtps, not {u.scheme!r}")
    if not u.hostname:
        raise ValueError("SCHEDO_SMTP_URL: a host is needed (smtp://host:port)")
    if u.path not in ("", "/"):
        raise ValueError("SCHEDO_SMTP_URL: no path expected after the host")
    start_tls: bool | None = None
    validate = True
    timeout = DEFAULT_TIMEOUT
    for name, value in parse_qsl(u.query, keep_blank_values=True):
        if name == "starttls":
            start_tls = _flag(name, value)
        elif name == "verify":
            validate = _flag(name, value)
        elif name == "timeout":
            try:
                timeout = float(value)
            except ValueError:
                timeout = -1.0
            if not 0 < timeout <= MAX_TIMEOUT:
                raise ValueError(
                    f"SCHEDO_SMTP_URL: timeout must be seconds in (0, {MAX_TIMEOUT:g}]"
                )
        else:
            raise ValueError(f"SCHEDO_SMTP_URL: unknown option {name!r}")
    use_tls = scheme == "smtps"
    if use_tls and start_tls:
        raise ValueError("SCHEDO_SMTP_URL: smtps already uses TLS; drop starttls=1")
    if port is None:
        port = 465 if use_tls else (587 if start_tls else 25)
    return SmtpConfig(
        host=u.hostname,
        port=port,
        username=unquote(u.username) if u.username else None,
        password=unquote(u.password) if u.password is not None else None,
        use_tls=use_tls,
        start_tls=False if use_tls else start_tls,
        validate_certs=validate,
        timeout=timeout,
    )


def _cap(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…"


async def send(cfg: SmtpConfig, message: EmailMessage, sender: str, recipient: str) -> Outcome:
    """Send ``message`` to one recipient (one connection); never raises for SMTP trouble."""
    import aiosmtplib  # at the first mail: a server that sends none never loads it (issue 18)

    try:
        await aiosmtplib.send(
            message,
            sender=sender,
            recipients=[recipient],
            hostname=cfg.host,
            port=cfg.port,
            username=cfg.username,
            password=cfg.password,
            use_tls=cfg.use_tls,
            start_tls=cfg.start_tls,
            validate_certs=cfg.validate_certs,
            timeout=cfg.timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        refused = exc.recipients[0] if exc.recipients else None
        code = refused.code if refused is not None else 550
        text = refused.message if refused is not None else str(exc)
        return Outcome(False, _cap(f"recipient refused: {code} {text}"), 500 <= code < 600)
    except aiosmtplib.SMTPRecipientRefused as exc:
        return Outcome(
            False, _cap(f"recipient refused: {exc.code} {exc.message}"), 500 <= exc.code < 600
        )
    except aiosmtplib.SMTPDataError as exc:
        return Outcome(
            False, _cap(f"message refused: {exc.code} {exc.message}"), 500 <= exc.code < 600
        )
    except aiosmtplib.SMTPAuthenticationError as exc:
        return Outcome(False, _cap(f"authentication failed: {exc.code} {exc.message}"))
    except aiosmtplib.SMTPSenderRefused as exc:
        return Outcome(False, _cap(f"sender {exc.sender} refused: {exc.code} {exc.message}"))
    except aiosmtplib.SMTPResponseException as exc:
        return Outcome(False, _cap(f"SMTP error: {exc.code} {exc.message}"))
    except aiosmtplib.SMTPException as exc:  # connect errors, timeouts, disconnects
        return Outcome(False, _cap(f"SMTP server {cfg.describe()}: {exc}"))
    except OSError as exc:
        return Outcome(False, _cap(f"SMTP server {cfg.describe()}: {exc}"))
    return SENT
