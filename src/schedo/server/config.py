"""One settings class for the server, read from ``SCHEDO_*`` environment variables.

Command-line options of ``schedo serve`` override the environment (the CLI builds a
``Settings`` with explicit values).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCHEDO_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///schedo.db",
        description="sqlite:///path.db (default schedo.db in the current folder) or postgresql://…",
    )
    admin_key: str | None = Field(
        default=None, repr=False,
        description="Bootstrap admin key; generated and printed once if unset.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="base64 of 32 bytes sealing webhook signature keys at rest (required with "
        "PostgreSQL unless secret_key_file is set); see docs/hardening.md",
    )
    secret_key_file: str | None = Field(
        default=None,
        description="File holding the sealing key (created 0600 if missing); default "
        "<database file>.key for SQLite",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    allow_private_webhooks: bool = False
    public_url: str = "http://127.0.0.1:8000"
    log_level: str = "INFO"
    log_format: str = "console"
    # Storage
    db_pool_size: int = 10
    # Scheduling
    tick_batch_size: int = 1000
    misfire_grace_seconds: float = 15.0
    restart_grace_seconds: float = Field(
        default=30.0, ge=0,
        description="After a start, deadlines that passed while no server ran wait this long "
        "before their runs expire, so reconnecting workers can report (docs/semantics.md).",
    )
    # Test hook only: pretend this host's clock is off by this much (PostgreSQL corrects it).
    clock_skew_seconds: float = 0.0
    # Notifications (SPEC 4)
    smtp_url: str | None = Field(
        default=None, description="smtp://user:pass@host:587?starttls=1 (smtps:// for TLS)"
    )
    mail_from: str = "schedo@localhost"
    notify_webhook_url: str | None = None
    # Request limits
    max_body_bytes: int = 1024 * 1024
    # Connections (docs/operations.md, "Connections and descriptors")
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="A request head must arrive within this many seconds."
    )
    body_timeout_seconds: float = Field(
        default=30.0, gt=0,
        description="Once its head is in, a request body must arrive within this (else 408).",
    )
    keep_alive_seconds: float = Field(
        default=5.0, gt=0, description="An idle kept-alive connection is closed after this."
    )
    max_connections: int = Field(
        default=10_000, ge=16,
        description="Open connections at most (also capped below the descriptor limit).",
    )
    express_lane: bool = Field(
        default=True,
        description="Answer the hottest API routes beside FastAPI's router (api/express.py).",
    )
    # Hardening (docs/hardening.md): metrics, abuse limits, retention
    metrics_token: str | None = Field(
        default=None, description="If set, GET /metrics needs 'Authorization: Bearer <token>'."
    )
    rate_limit_per_second: float = Field(
        default=1000.0, ge=0, description="Requests per second per API key (0 disables)."
    )
    rate_limit_burst: int = Field(default=2000, ge=0, description="Token bucket size per key.")
    auth_failure_limit: int = Field(
        default=20, ge=0, description="Failed authentications per client address per window."
    )
    auth_failure_window_seconds: float = Field(default=60.0, gt=0)
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated CIDRs whose X-Forwarded-For is believed (e.g. 10.0.0.0/8).",
    )
    retention_days: float = Field(
        default=30.0, ge=0, description="Prune executions/notifications older than this (0: keep)."
    )
    retention_interval_seconds: float = Field(default=3600.0, gt=0)
    retention_batch_size: int = Field(default=500, ge=1, le=10_000)
    # OIDC sign-in to the dashboard (issue 22, docs/dashboard.md "OIDC"): off unless the issuer,
    # the client id and its secret are all set
    oidc_issuer: str | None = Field(
        default=None,
        description="The provider's issuer URL (its /.well-known/openid-configuration is read); "
        "https, or http on a loopback address",
    )
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_name: str = Field(default="SSO", max_length=60,
                           description="The sign-in button says 'Sign in with <name>'.")
    oidc_require_verified_email: bool = Field(
        default=True,
        description="Refuse ID tokens without email_verified true (turn off only for a "
        "provider that verifies every address and does not send the claim).",
    )

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer)

    @model_validator(mode="after")
    def _oidc_complete(self) -> Settings:
        if not self.oidc_issuer:
            return self
        if not self.oidc_client_id or not self.oidc_client_secret:
            raise ValueError("SCHEDO_OIDC_ISSUER needs SCHEDO_OIDC_CLIENT_ID and "
                             "SCHEDO_OIDC_CLIENT_SECRET")
        parts = urlsplit(self.oidc_issuer)
        loopback = parts.hostname in {"127.0.0.1", "::1", "localhost"}
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise ValueError("SCHEDO_OIDC_ISSUER must be an https:// URL (http only on a "
                             "loopback address)")
        if parts.query or parts.fragment:
            raise ValueError("SCHEDO_OIDC_ISSUER must not have a query or fragment")
        return self
