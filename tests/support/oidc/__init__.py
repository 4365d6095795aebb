"""A real OpenID Connect provider for the OIDC sign-in tests: panva's ``oidc-provider`` run by
node (``provider.js`` here; its packages come from ``npm ci`` in this folder, done by .ci/run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.server import free_port, wait_until

OIDC_DIR = Path(__file__).resolve().parent
CALLBACK = "/ui/login/oidc/callback"


def need_provider() -> None:
    """Fail in CI (``CI`` set), skip elsewhere, when node or the provider's packages are
    missing."""
    missing = None
    if shutil.which("node") is None:
        missing = "node is not installed"
    elif not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        missing = "run `npm ci` in tests/support/oidc (.ci/run does)"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"the OIDC tests need a real provider: {missing}")
        pytest.skip(f"the OIDC tests need a real provider: {missing}")


@contextmanager
def running_provider(client_id: str, client_secret: str, schedo_ports: list[int],
                     log_path: Path, host: str = "127.0.0.1") -> Iterator[str]:
    """The provider on a free loopback port with one confidential client whose redirect URIs
    are the callbacks of Schedo servers on ``schedo_ports``; yields its issuer URL (on
    ``host``: ``localhost`` makes it another site than Schedo on 127.0.0.1)."""
    need_provider()
    port = free_port()
    issuer = f"http://{host}:{port}"
    uris = ",".join(f"http://127.0.0.1:{p}{CALLBACK}" for p in schedo_ports)
    env = {**os.environ, "OIDC_ISSUER": issuer}
    with log_path.open("w") as log:
        proc = subprocess.Popen(["node", "provider.js", str(port), client_id, client_secret,
                                 uris], cwd=OIDC_DIR, stdout=log, stderr=subprocess.STDOUT,
                                env=env)

        def up() -> bool:
            assert proc.poll() is None, f"the OIDC provider exited: {log_path.read_text()}"
            try:
                url = f"http://127.0.0.1:{port}/.well-known/openid-configuration"
                return httpx.get(url, timeout=1).is_success
            except httpx.HTTPError:
                return False

        try:
            wait_until(up, 30, what="the OIDC provider")
            yield issuer
        finally:
            proc.terminate()
            proc.wait(10)
