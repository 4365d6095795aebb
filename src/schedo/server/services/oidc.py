"""OIDC sign-in to the dashboard (issue 22): the authorization code flow with PKCE.

The provider is found by discovery (``<issuer>/.well-known/openid-configuration``, whose
``issuer`` must be the configured one exactly). Authlib's httpx client builds the authorization
URL (``state``, ``nonce``, S256 code challenge) and exchanges the code, authenticating with the
client secret. The ID token is verified with joserfc (authlib's JOSE library): its signature
against the provider's JWKS, then ``iss``, ``aud`` (and ``azp`` when there are several
audiences), ``exp``, ``iat`` and the ``nonce`` of this sign-in. Its verified ``email`` must
belong to an existing user with a role: signing in never creates a user. docs/dashboard.md
("OIDC sign-in") has the decisions.
"""

from __future__ import annotations

import secrets
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from ..config import Settings
from ..domain import people as rules
from . import people
from .context import Services

# joserfc and authlib (with the cryptography they load: ~11 MB) are imported by the functions
# that use them, at the first OIDC sign-in, so a server does not hold them until then
# (issue 18, idle RSS).
if TYPE_CHECKING:
    from authlib.integrations.httpx_client import AsyncOAuth2Client
    from joserfc.jwk import KeySet


def _authlib() -> tuple[type[AsyncOAuth2Client], type[Exception]]:
    with warnings.catch_warnings():  # authlib prefers httpx2 (not installed); httpx works the same
        import authlib.deprecate  # noqa: F401  (its "always" filter, then ours in front of it)

        warnings.simplefilter("ignore")
        from authlib.common.errors import AuthlibBaseError
        from authlib.integrations.httpx_client import AsyncOAuth2Client
    return AsyncOAuth2Client, AuthlibBaseError

SCOPE = "openid email profile"
CALLBACK_PATH = "/ui/login/oidc/callback"
TIMEOUT_SECONDS = 10.0
DISCOVERY_TTL_SECONDS = 300.0  # metadata and keys are re-read at most this often
LEEWAY_SECONDS = 60  # clock difference allowed for exp and iat
# asymmetric algorithms only: an ID token signed with the client secret (HS256) is refused
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
              "ES512", "EdDSA", "Ed25519"]


class OidcError(Exception):
    """A sign-in that failed: ``status`` for the login page, ``message`` for the person."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    keys: KeySet
    fetched: float


@dataclass(frozen=True)
class Pending:
    """What a started sign-in keeps (in a signed cookie) until the provider sends the person
    back."""

    state: str
    nonce: str
    verifier: str


@dataclass(frozen=True)
class Config:
    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    name: str
    require_verified_email: bool


def config(settings: Settings) -> Config | None:
    """The OIDC settings, or None when OIDC sign-in is off."""
    if not settings.oidc_enabled or settings.oidc_client_secret is None:
        return None
    return Config(
        issuer=str(settings.oidc_issuer).rstrip("/"),
        client_id=str(settings.oidc_client_id),
        client_secret=settings.oidc_client_secret.get_secret_value(),
        redirect_uri=settings.public_url.rstrip("/") + CALLBACK_PATH,
        name=settings.oidc_name,
        require_verified_email=settings.oidc_require_verified_email,
    )


_cache: dict[str, Provider] = {}


def _down(name: str, what: str) -> OidcError:
    return OidcError(502, f"{name} could not be reached ({what}). Try again later, or sign "
                          "in with your password.")


async def _get_json(client: httpx.AsyncClient, url: str, name: str) -> dict[str, Any]:
    try:
        response = await client.get(url, headers={"accept": "application/json"})
    except httpx.HTTPError as exc:
        raise _down(name, type(exc).__name__) from None
    if response.status_code != 200:
        raise _down(name, f"{url} answered {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise _down(name, f"{url} did not answer JSON") from None
    if not isinstance(body, dict):
        raise _down(name, f"{url} did not answer a JSON object")
    return body


async def discover(cfg: Config, *, fresh: bool = False) -> Provider:
    """The provider's endpoints and signing keys (cached for ``DISCOVERY_TTL_SECONDS``)."""
    cached = _cache.get(cfg.issuer)
    if cached is not None and not fresh and time.monotonic() - cached.fetched < \
            DISCOVERY_TTL_SECONDS:
        return cached
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
        meta = await _get_json(client, cfg.issuer + "/.well-known/openid-configuration",
                               cfg.name)
        if meta.get("issuer") != cfg.issuer:
            raise OidcError(502, f"{cfg.name}'s discovery document names issuer "
                                 f"{meta.get('issuer')!r}, not the configured {cfg.issuer!r}.")
        endpoints = [meta.get(k) for k in ("authorization_endpoint", "token_endpoint",
                                            "jwks_uri")]
        if not all(isinstance(e, str) and e.startswith(("https://", "http://"))
                   for e in endpoints):
            raise OidcError(502, f"{cfg.name}'s discovery document lacks an endpoint.")
        jwks = await _get_json(client, str(endpoints[2]), cfg.name)
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    try:
        keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, KeyError, TypeError):
        raise OidcError(502, f"{cfg.name}'s signing keys (JWKS) could not be read.") from None
    found = Provider(cfg.issuer, str(endpoints[0]), str(endpoints[1]), keys, time.monotonic())
    _cache[cfg.issuer] = found
    return found


def _client(cfg: Config) -> AsyncOAuth2Client:
    return _authlib()[0](
        client_id=cfg.client_id, client_secret=cfg.client_secret, scope=SCOPE,
        redirect_uri=cfg.redirect_uri, code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic", timeout=TIMEOUT_SECONDS,
    )


async def start(cfg: Config) -> tuple[str, Pending]:
    """The provider's authorization URL to send the browser to, and what to keep."""
    provider = await discover(cfg)
    pending = Pending(state=secrets.token_urlsafe(24), nonce=secrets.token_urlsafe(24),
                      verifier=secrets.token_urlsafe(48))
    async with _client(cfg) as client:
        url, _ = client.create_authorization_url(
            provider.authorization_endpoint, state=pending.state, nonce=pending.nonce,
            code_verifier=pending.verifier)
    return url, pending


async def _exchange(cfg: Config, provider: Provider, code: str, pending: Pending) -> str:
    """The ID token the provider gives for this code (the code works once)."""
    AuthlibBaseError = _authlib()[1]  # a class, imported at first use (see the top)
    async with _client(cfg) as client:
        try:
            token = await client.fetch_token(provider.token_endpoint, code=code,
                                             code_verifier=pending.verifier)
        except AuthlibBaseError as exc:
            error = getattr(exc, "error", "") or ""
            if error in {"invalid_client", "unauthorized_client"}:
                raise OidcError(502, f"{cfg.name} refused this server's client id or secret "
                                     "(the operator's OIDC settings are wrong).") from None
            if error == "invalid_grant":
                raise OidcError(400, f"{cfg.name} refused the sign-in code: it was used "
                                     "already or has expired. Sign in again.") from None
            raise OidcError(502, f"{cfg.name} refused the sign-in ({error or 'error'}).") \
                from None
        except httpx.HTTPError as exc:
            raise _down(cfg.name, type(exc).__name__) from None
        except ValueError:  # a token response that is not JSON
            raise _down(cfg.name, "its token endpoint did not answer JSON") from None
    raw = token.get("id_token") if isinstance(token, dict) else None
    if not isinstance(raw, str) or not raw:
        raise OidcError(502, f"{cfg.name} answered without an ID token.")
    return raw


def verify_id_token(raw: str, keys: KeySet, cfg: Config, nonce: str,
                    now: float | None = None) -> dict[str, Any]:
    """The ID token's claims once its signature and claims check out, else OidcError 401."""
    from joserfc import jwt
    from joserfc.errors import JoseError

    try:
        token = jwt.decode(raw, keys, algorithms=ALGORITHMS)
    except (JoseError, ValueError, TypeError) as exc:
        raise OidcError(401, f"The ID token from {cfg.name} did not verify "
                             f"({type(exc).__name__}).") from None
    claims = token.claims
    registry = jwt.JWTClaimsRegistry(
        now=int(now if now is not None else time.time()), leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": cfg.issuer},
        aud={"essential": True, "value": cfg.client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise OidcError(401, f"The ID token from {cfg.name} was refused: "
                             f"{exc.description or type(exc).__name__}.") from None
    aud = claims["aud"]
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != cfg.client_id:
        raise OidcError(401, f"The ID token from {cfg.name} was refused: it was issued to "
                             "another client (azp).")
    return claims


def email_of(claims: dict[str, Any], cfg: Config) -> str:
    """The verified email address in the claims (normalised), else OidcError 403."""
    email = claims.get("email")
    if not isinstance(email, str) or rules.email_problem(rules.normal_email(email)):
        raise OidcError(403, f"Your {cfg.name} account has no email address Schedo can use. "
                             "Ask your administrator, or sign in with your password.")
    if cfg.require_verified_email and claims.get("email_verified") is not True:
        raise OidcError(403, f"{cfg.name} has not verified the address {email}, so it cannot "
                             "sign you in here.")
    return rules.normal_email(email)


async def finish(cfg: Config, code: str, pending: Pending) -> str:
    """The verified email address of the person the provider signed in with ``code``."""
    provider = await discover(cfg)
    raw = await _exchange(cfg, provider, code, pending)
    try:
        claims = verify_id_token(raw, provider.keys, cfg, pending.nonce)
    except OidcError:
        # the provider may have rotated its keys since we read them: read them once more
        # (only after a code exchange succeeded, so this is not a way to make us fetch)
        fresh = await discover(cfg, fresh=True)
        claims = verify_id_token(raw, fresh.keys, cfg, pending.nonce)
    return email_of(claims, cfg)


async def sign_in(svc: Services, email: str, user_agent: str, name: str) -> people.SignedIn:
    """A session for the one user with this (provider-verified) address who may sign in,
    exactly as after a password sign-in; OidcError 403 when there is none or several."""
    eligible = []
    for user in await svc.store.users_by_email(email):
        if user.disabled:
            continue
        person = await svc.store.get_person(user.organization_id, user.id)
        if person.memberships:
            eligible.append(person)
    if not eligible:
        raise OidcError(403, f"No Schedo account with a role has the address {email} that "
                             f"{name} confirmed. Ask an admin to invite you.")
    if len(eligible) > 1:
        raise OidcError(403, f"The address {email} has accounts in several organisations; "
                             "sign in with your password to choose one.")
    return await people.new_session(svc, eligible[0], user_agent, name)
