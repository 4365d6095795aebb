"""The checks of an OIDC ID token, its email claim, the OIDC settings and the signed cookie of a
started sign-in (issue 22), without a provider: tokens are signed here with generated keys.
The whole flow against a real provider is tests/e2e/test_oidc.py."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey
from pydantic import ValidationError

from schedo.server.config import Settings
from schedo.server.services import oidc
from schedo.server.web import pages_oidc

ISSUER = "https://id.example.com"
CFG = oidc.Config(issuer=ISSUER, client_id="schedo", client_secret="s3cret",
                  redirect_uri="https://schedo.example.com/ui/login/oidc/callback",
                  name="Example", require_verified_email=True)
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
KEYS = KeySet.import_key_set({"keys": [KEY.as_dict(private=False)]})  # type: ignore[list-item]
NOW = 1_900_000_000


def _claims(**changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {"iss": ISSUER, "aud": "schedo", "sub": "u1", "iat": NOW - 5,
                              "exp": NOW + 300, "nonce": "n1", "email": "Ann@Example.com",
                              "email_verified": True}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _token(claims: dict[str, Any], key: Any = KEY, alg: str = "RS256") -> str:
    return jwt.encode({"alg": alg, "kid": "k1"}, claims, key)


def _refused(raw: str, nonce: str = "n1") -> oidc.OidcError:
    with pytest.raises(oidc.OidcError) as caught:
        oidc.verify_id_token(raw, KEYS, CFG, nonce, now=NOW)
    assert caught.value.status == 401
    return caught.value


def test_a_good_token_gives_its_claims() -> None:
    claims = oidc.verify_id_token(_token(_claims()), KEYS, CFG, "n1", now=NOW)
    assert claims["sub"] == "u1"
    assert oidc.email_of(claims, CFG) == "ann@example.com"
    # within the leeway for clocks that differ
    late = _claims(exp=NOW - oidc.LEEWAY_SECONDS + 5)
    assert oidc.verify_id_token(_token(late), KEYS, CFG, "n1", now=NOW)["sub"] == "u1"


@pytest.mark.parametrize("changes", [
    {"aud": "another-client"},
    {"aud": None},
    {"iss": "https://evil.example.com"},
    {"iss": None},
    {"exp": NOW - oidc.LEEWAY_SECONDS - 1},
    {"exp": None},
    {"iat": NOW + oidc.LEEWAY_SECONDS + 60},
    {"nonce": "another-sign-in"},
    {"nonce": None},
    {"sub": None},
    {"aud": ["schedo", "other"]},  # several audiences need azp naming us
    {"aud": ["schedo", "other"], "azp": "other"},
], ids=repr)
def test_claims_that_do_not_check_out_are_refused(changes: dict[str, Any]) -> None:
    error = _refused(_token(_claims(**changes)))
    assert "Example" in error.message


def test_several_audiences_with_our_azp_pass() -> None:
    claims = _claims(aud=["schedo", "other"], azp="schedo")
    assert oidc.verify_id_token(_token(claims), KEYS, CFG, "n1", now=NOW)["azp"] == "schedo"


def test_signatures_that_do_not_check_out_are_refused() -> None:
    other = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    _refused(_token(_claims(), key=other))  # same key id, another key
    # signed with the client secret (HS256): only the provider's public keys count
    _refused(_token(_claims(), key=OctKey.import_key(b"s3cret" * 6), alg="HS256"))
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(_claims()).encode()).rstrip(b"=")
    _refused(f"{header.decode()}.{body.decode()}.")  # unsigned
    good = _token(_claims())
    head, _payload, sig = good.split(".")
    forged = base64.urlsafe_b64encode(json.dumps(_claims(sub="admin")).encode()).rstrip(b"=")
    _refused(f"{head}.{forged.decode()}.{sig}")  # claims changed after signing
    for garbage in ("", "abc", "a.b.c", good + "x"):
        _refused(garbage)


@pytest.mark.parametrize(("claims", "words"), [
    ({"email": None}, "no email address"),
    ({"email": "not-an-address"}, "no email address"),
    ({"email": ["a@example.com"]}, "no email address"),
    ({"email_verified": False}, "has not verified"),
    ({"email_verified": None}, "has not verified"),
    ({"email_verified": "true"}, "has not verified"),  # only the JSON true counts
])
def test_email_must_be_there_and_verified(claims: dict[str, Any], words: str) -> None:
    with pytest.raises(oidc.OidcError) as caught:
        oidc.email_of(_claims(**claims), CFG)
    assert caught.value.status == 403 and words in caught.value.message


def test_unverified_email_passes_only_when_configured() -> None:
    lax = oidc.Config(**{**CFG.__dict__, "require_verified_email": False})
    assert oidc.email_of(_claims(email_verified=None), lax) == "ann@example.com"


def test_settings_are_off_unset_and_complete_when_set() -> None:
    off = Settings(_env_file=None)  # type: ignore[call-arg]
    assert not off.oidc_enabled and oidc.config(off) is None
    on = Settings(oidc_issuer="https://id.example.com/", oidc_client_id="c",
                  oidc_client_secret="s", public_url="https://schedo.example.com/")
    cfg = oidc.config(on)
    assert cfg is not None and cfg.issuer == "https://id.example.com"
    assert cfg.redirect_uri == "https://schedo.example.com/ui/login/oidc/callback"
    assert Settings(oidc_issuer="http://127.0.0.1:9000", oidc_client_id="c",
                    oidc_client_secret="s").oidc_enabled
    for bad in ({"oidc_issuer": "https://id.example.com"},
                {"oidc_issuer": "https://id.example.com", "oidc_client_id": "c"},
                {"oidc_issuer": "http://id.example.com", "oidc_client_id": "c",
                 "oidc_client_secret": "s"},
                {"oidc_issuer": "https://id.example.com?x=1", "oidc_client_id": "c",
                 "oidc_client_secret": "s"},
                {"oidc_issuer": "ftp://id.example.com", "oidc_client_id": "c",
                 "oidc_client_secret": "s"}):
        with pytest.raises(ValidationError):
            Settings(**bad)


def test_the_started_sign_in_cookie_cannot_be_forged_or_kept() -> None:
    key, now = b"k" * 32, time.time()
    body = {"s": "state", "n": "nonce", "v": "verifier", "next": "/ui/", "x": int(now) + 60}
    sealed = pages_oidc._seal(key, body)
    assert pages_oidc._open(key, sealed, now) == body
    assert pages_oidc._open(b"x" * 32, sealed, now) is None  # another server's key
    assert pages_oidc._open(key, sealed, now + 61) is None  # expired
    _payload, mac = sealed.split(".")
    other = pages_oidc._seal(key, {**body, "s": "mine"}).split(".")[0]
    assert pages_oidc._open(key, f"{other}.{mac}", now) is None
    for junk in (None, "", "a", "a.b.c", sealed + "x", "." + mac, "x" * 3000):
        assert pages_oidc._open(key, junk, now) is None
    bad = pages_oidc._seal(key, {**body, "s": 5})  # signed but not the right shape
    assert pages_oidc._open(key, bad, now) is None
