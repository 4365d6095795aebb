"""OIDC sign-in to the dashboard (issue 22) against a real OpenID Connect provider: panva's
certified ``oidc-provider`` (tests/support/oidc, run with node) and real ``schedo serve``
processes. httpx follows the provider's own sign-in and consent pages.

Without node or the provider's packages (``npm ci`` in tests/support/oidc, done by .ci/run)
these tests fail in CI (``CI`` set) and are skipped elsewhere.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from tests.conftest import PG_URL, _drop_pg_database, _fresh_pg_database
from tests.support.oidc import CALLBACK, running_provider
from tests.support.server import ServerProcess, child_env, free_port

CLIENT_ID = "schedo-e2e"
CLIENT_SECRET = secrets.token_urlsafe(24)
PASSWORD = "correct horse battery"


@dataclass
class Ports:
    sqlite: int
    postgres: int
    wrong_secret: int


@pytest.fixture(scope="module")
def ports() -> Ports:
    return Ports(free_port(), free_port(), free_port())


@pytest.fixture(scope="module")
def issuer(ports: Ports, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("oidc") / "provider.log"
    with running_provider(CLIENT_ID, CLIENT_SECRET,
                          [ports.sqlite, ports.postgres, ports.wrong_secret], log) as url:
        yield url


def _oidc_env(port: int, issuer: str, secret: str = CLIENT_SECRET) -> dict[str, str]:
    return {"SCHEDO_PUBLIC_URL": f"http://127.0.0.1:{port}", "SCHEDO_OIDC_ISSUER": issuer,
            "SCHEDO_OIDC_CLIENT_ID": CLIENT_ID, "SCHEDO_OIDC_CLIENT_SECRET": secret,
            "SCHEDO_OIDC_NAME": "TestIdP"}


def _add_user(db_url: str, workdir: Path, email: str) -> None:
    subprocess.run([sys.executable, "-m", "schedo.cli", "user", "add", email, "--role", "admin",
                    "--db", db_url], cwd=workdir, check=True, capture_output=True,
                   env=child_env(SCHEDO_USER_PASSWORD=PASSWORD))


def _server(db_url: str, workdir: Path, env: dict[str, str], port: int) -> ServerProcess:
    server = ServerProcess(db_url, workdir, port=port, extra_env=env).start()
    _add_user(db_url, workdir, "alice@example.com")
    return server


@pytest.fixture(scope="module")
def sqlite_server(ports: Ports, issuer: str,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    work = tmp_path_factory.mktemp("oidc-sqlite")
    server = _server(f"sqlite:///{work / 'schedo.db'}", work,
                     _oidc_env(ports.sqlite, issuer), ports.sqlite)
    yield server
    server.stop()


def _to_callback(client: httpx.Client, server: ServerProcess, login: str) -> str:
    """Start at Schedo, sign in at the provider's development pages as ``login`` and consent,
    following every redirect up to (not into) the callback to Schedo: its URL."""
    r = client.get(f"{server.url}/ui/login/oidc?next=/ui/jobs", follow_redirects=False)
    for _ in range(20):
        if r.is_redirect:
            url = r.url.join(r.headers["location"])
            if url.path == CALLBACK:
                return str(url)
            r = client.get(url, follow_redirects=False)
        elif r.status_code == 200 and r.url.path.startswith("/interaction/"):
            action = re.search(r'action="([^"]+)"', r.text)
            prompt = re.search(r'name="prompt" value="(\w+)"', r.text)
            assert action is not None and prompt is not None, r.text
            form = {"prompt": prompt.group(1)}
            if prompt.group(1) == "login":
                form |= {"login": login, "password": "anything"}
            r = client.post(str(r.url.join(action.group(1))), data=form,
                            follow_redirects=False)
        else:
            raise AssertionError(f"{r.status_code} at {r.url}: {r.text[:800]}")
    raise AssertionError("the sign-in did not come back to Schedo")


def _client() -> httpx.Client:
    return httpx.Client(timeout=20, follow_redirects=True)


def _sign_in(server: ServerProcess, login: str) -> tuple[httpx.Client, httpx.Response]:
    client = _client()
    return client, client.get(_to_callback(client, server, login))


def _assert_signed_in(client: httpx.Client, server: ServerProcess, page: httpx.Response,
                      email: str) -> None:
    assert page.status_code == 200, page.text
    assert page.url.path == CALLBACK
    assert 'http-equiv="refresh" content="0;url=/ui/jobs"' in page.text
    jobs = client.get(f"{server.url}/ui/jobs")
    assert jobs.status_code == 200 and jobs.url.path == "/ui/jobs", jobs.url
    assert email in jobs.text


def _assert_refused(client: httpx.Client, server: ServerProcess, page: httpx.Response,
                    status: int, words: str) -> None:
    assert page.status_code == status, page.text
    assert 'id="login-error"' in page.text and words in page.text, page.text
    assert "schedo_session" not in client.cookies
    _assert_signed_out(client, server)


def _assert_signed_out(client: httpx.Client, server: ServerProcess) -> None:
    # (_b=1: past the page that reloads once for SameSite=Strict cookies, web/routing.py)
    after = client.get(f"{server.url}/ui/jobs?_b=1")
    assert after.url.path == "/ui/login", after.url


def test_login_page_offers_the_provider(sqlite_server: ServerProcess) -> None:
    page = httpx.get(f"{sqlite_server.url}/ui/login?next=/ui/jobs")
    assert page.status_code == 200
    assert 'href="/ui/login/oidc?next=/ui/jobs"' in page.text
    assert "Sign in with TestIdP" in page.text


def test_sign_in_gives_a_revocable_session(sqlite_server: ServerProcess) -> None:
    first, page = _sign_in(sqlite_server, "alice@example.com")
    _assert_signed_in(first, sqlite_server, page, "alice@example.com")
    second, page = _sign_in(sqlite_server, "Alice@Example.com")  # addresses match any case
    _assert_signed_in(second, sqlite_server, page, "alice@example.com")
    # the first session ends the second one from Settings -> Sessions
    sessions = first.get(f"{sqlite_server.url}/ui/sessions")
    ids = sorted({int(i) for i in re.findall(r"/ui/sessions/(\d+)/revoke", sessions.text)})
    assert len(ids) == 2, sessions.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', sessions.text)
    assert csrf is not None
    gone = first.post(f"{sqlite_server.url}/ui/sessions/{ids[-1]}/revoke",
                      data={"csrf": csrf.group(1)})
    assert gone.status_code == 200 and gone.url.path == "/ui/sessions"
    _assert_signed_out(second, sqlite_server)
    assert first.get(f"{sqlite_server.url}/ui/jobs").url.path == "/ui/jobs"
    first.close()
    second.close()


def test_unknown_and_unverified_addresses_get_no_session(sqlite_server: ServerProcess) -> None:
    client, page = _sign_in(sqlite_server, "mallory@example.com")
    _assert_refused(client, sqlite_server, page, 403, "No Schedo account")
    client, page = _sign_in(sqlite_server, "unverified-alice@example.com")
    _assert_refused(client, sqlite_server, page, 403, "has not verified")
    client, page = _sign_in(sqlite_server, "noemail-alice")
    _assert_refused(client, sqlite_server, page, 403, "no email address")


def _with(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query)) | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


def _state_of(start: httpx.Response) -> str:
    return dict(parse_qsl(urlsplit(start.headers["location"]).query))["state"]


def test_tampered_state_and_replayed_code_are_refused(sqlite_server: ServerProcess) -> None:
    client = _client()
    back = _to_callback(client, sqlite_server, "alice@example.com")
    tampered = client.get(_with(back, state=secrets.token_urlsafe(24)))
    _assert_refused(client, sqlite_server, tampered, 400, "(state)")
    again = client.get(back)  # the failed attempt ended this sign-in: its cookie is gone
    _assert_refused(client, sqlite_server, again, 400, "did not start in this browser")
    # a code works once: replayed with the sign-in's own cookie it is refused by the provider
    client = _client()
    back = _to_callback(client, sqlite_server, "alice@example.com")
    kept = client.cookies.get("schedo_oidc")
    assert kept
    _assert_signed_in(client, sqlite_server, client.get(back), "alice@example.com")
    replay = _client()
    page = replay.get(back, headers={"cookie": f"schedo_oidc={kept}"})
    _assert_refused(replay, sqlite_server, page, 400, "used already or has expired")
    # a forged cookie is refused before anything is sent to the provider
    forged = _client()
    start = forged.get(f"{sqlite_server.url}/ui/login/oidc", follow_redirects=False)
    forged.cookies.clear()
    page = forged.get(_with(back, state=_state_of(start)),
                      headers={"cookie": f"schedo_oidc={kept[:-2]}xx"})
    _assert_refused(forged, sqlite_server, page, 400, "did not start in this browser")
    # the provider's error answer (the person cancelled) is a refusal too
    cancel = _client()
    start = cancel.get(f"{sqlite_server.url}/ui/login/oidc", follow_redirects=False)
    page = cancel.get(f"{sqlite_server.url}{CALLBACK}?" + urlencode(
        {"state": _state_of(start), "error": "access_denied",
         "error_description": "End-User aborted interaction"}))
    _assert_refused(cancel, sqlite_server, page, 401, "End-User aborted")


def test_wrong_client_secret_and_provider_down(
        ports: Ports, issuer: str, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'schedo.db'}"
    wrong = _server(db, tmp_path, _oidc_env(ports.wrong_secret, issuer, "not-the-secret"),
                    ports.wrong_secret)
    try:
        client, page = _sign_in(wrong, "alice@example.com")
        _assert_refused(client, wrong, page, 502, "refused this server")
    finally:
        wrong.stop()
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    down = ServerProcess(db, tmp_path, extra_env=_oidc_env(0, dead)).start()
    try:
        client = _client()
        page = client.get(f"{down.url}/ui/login/oidc")
        _assert_refused(client, down, page, 502, "could not be reached")
    finally:
        down.stop()


def test_off_when_not_configured(tmp_path: Path) -> None:
    server = ServerProcess(f"sqlite:///{tmp_path / 'schedo.db'}", tmp_path).start()
    try:
        login = httpx.get(f"{server.url}/ui/login")
        assert login.status_code == 200 and "oidc" not in login.text.lower()
        page = httpx.get(f"{server.url}/ui/login/oidc")
        assert page.status_code == 404 and "not set up" in page.text
    finally:
        server.stop()


@pytest.fixture
def pg_db() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("needs SCHEDO_TEST_POSTGRES_URL")
    url = asyncio.run(_fresh_pg_database(PG_URL))
    yield url
    asyncio.run(_drop_pg_database(url))


def test_sign_in_on_postgres(ports: Ports, issuer: str, pg_db: str, tmp_path: Path) -> None:
    server = _server(pg_db, tmp_path, _oidc_env(ports.postgres, issuer), ports.postgres)
    try:
        client, page = _sign_in(server, "alice@example.com")
        _assert_signed_in(client, server, page, "alice@example.com")
        client, page = _sign_in(server, "bob@example.com")
        _assert_refused(client, server, page, 403, "No Schedo account")
    finally:
        server.stop()
