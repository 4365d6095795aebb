"""``/openapi.json`` documents the error answers the API really gives (``{"message"}``)."""

from __future__ import annotations

from tests.hardening.conftest import HApi


async def test_error_responses_are_documented(hapi: HApi) -> None:
    schema = (await hapi.client.get("/openapi.json")).json()
    assert schema["components"]["schemas"]["ErrorMessage"]["required"] == ["message"]
    op = schema["paths"]["/jobs/{job_id}"]["get"]["responses"]
    for status in ("400", "401", "403", "404", "422", "429", "503"):
        ref = op[status]["content"]["application/json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/ErrorMessage"
    assert "Retry-After" in op["429"]["headers"]
    assert set(schema["paths"]["/healthz"]["get"]["responses"]) == {"200"}
    assert "503" in schema["paths"]["/readyz"]["get"]["responses"]
    assert "text/plain" in schema["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    # the document is built once and stays the same
    again = (await hapi.client.get("/openapi.json")).json()
    assert again == schema


async def test_a_real_error_matches_the_documented_shape(hapi: HApi) -> None:
    r = await hapi.client.get("/jobs/12345", headers=hapi.admin)
    assert r.status_code == 404
    assert set(r.json()) == {"message"}
