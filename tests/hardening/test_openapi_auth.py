"""``/openapi.json`` documents the key headers on every operation that needs a key, as FastAPI
documented ``principal``'s declared ``Header`` parameters (api/openapi_auth.py), and on none
of the open routes; the headers still work as before (read from the request)."""

from __future__ import annotations

from schedo.server.api.openapi_auth import declared_parameters
from tests.hardening.conftest import HApi

OPEN = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"}


async def test_every_keyed_operation_documents_the_key_headers(hapi: HApi) -> None:
    schema = (await hapi.client.get("/openapi.json")).json()
    declared = declared_parameters()
    assert [p["name"] for p in declared] == ["x-api-key", "X-API-ENVIRONMENT"]
    assert all(p["in"] == "header" and p["required"] is False for p in declared)
    keyed = 0
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            params = op.get("parameters", [])
            names = [(p["in"], p["name"]) for p in params]
            if path in OPEN or path.startswith("/ping/"):
                assert ("header", "x-api-key") not in names, (path, method)
                continue
            keyed += 1
            assert params[-2:] == declared, (path, method)
            assert names.count(("header", "x-api-key")) == 1
            # path and query parameters before the headers, as FastAPI orders them
            kinds = [p["in"] for p in params]
            assert kinds == sorted(kinds, key=["path", "query", "header", "cookie"].index)
    assert keyed > 40
    assert not any(p.startswith("/api/") for p in schema["paths"])


async def test_the_key_headers_are_read_from_the_request(hapi: HApi) -> None:
    ok = await hapi.client.get("/jobs", headers={"X-Api-Key": hapi.admin["x-api-key"]})
    assert ok.status_code == 200
    missing = await hapi.client.get("/jobs")
    assert missing.status_code == 401 and missing.json() == {
        "message": "x-api-key: missing API key"}
    env = await hapi.client.get("/jobs", headers={**hapi.admin, "x-api-environment": "abc"})
    assert env.status_code == 400
    assert env.json() == {"message": "X-API-ENVIRONMENT: must be an environment id (integer)"}
    blank = await hapi.client.get("/jobs", headers={**hapi.admin, "X-API-ENVIRONMENT": " "})
    assert blank.status_code == 200
