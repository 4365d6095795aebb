"""``schedo.Client`` covers every API route (README): the organisation extensions (signing
secret, channels, audit log, notifications, explain, chains) against a real server process,
and a check that every route of ``/openapi.json`` is sent by some endpoint function."""

from __future__ import annotations

import inspect
import re
from typing import Any

import httpx
import pytest

import schedo
from schedo import BadRequest, Forbidden, NotFound
from schedo.sdk import admin_endpoints, endpoints
from schedo.sdk.calls import Call
from tests.support.server import ADMIN_KEY, ServerProcess

NEVER = "0 0 1 1 *"
# routes no client method is for: probes, metrics, heartbeat pings (curl from a script) and the
# SSE stream (an alternative to the pull, used by the benchmark's worker)
NOT_CLIENT = re.compile(r"^(/healthz|/readyz|/metrics|/ping/.*|/jobs/executions/sse)$")


def test_signing_secret_show_and_rotate(client: schedo.Client) -> None:
    env = min(e.id for e in client.list_environments())
    before = client.webhook_secret(env)
    assert before["environment_id"] == env and before["webhook_signature_key"]
    rotated = client.rotate_webhook_secret(env, overlap_seconds=60)
    assert rotated["webhook_signature_key"] != before["webhook_signature_key"]
    assert rotated["previous_valid_until"] is not None  # the old key signs for a minute more
    assert client.webhook_secret(env)["webhook_signature_key"] == \
        rotated["webhook_signature_key"]
    again = client.rotate_webhook_secret(env, overlap_seconds=0)
    assert again["previous_valid_until"] is None
    with pytest.raises(BadRequest):
        client.rotate_webhook_secret(env, overlap_seconds=8 * 86400)  # over 7 days
    assert client.webhook_secret(env)["webhook_signature_key"] == \
        again["webhook_signature_key"]  # the refused rotation changed nothing
    with pytest.raises(NotFound):
        client.webhook_secret(987654)


def test_channels_create_read_replace_delete(client: schedo.Client, name: str) -> None:
    made = client.create_channel(name, "email", addresses=["ops@example.com"])
    assert made["kind"] == "email" and made["addresses"] == ["ops@example.com"]
    assert client.get_channel(made["id"])["name"] == name
    assert made["id"] in [c["id"] for c in client.list_channels()]
    replaced = client.replace_channel(made["id"], name, "webhook",
                                      url="https://hooks.example.com/x")
    assert replaced["kind"] == "webhook" and replaced["url"] == "https://hooks.example.com/x"
    assert client.delete_channel(made["id"])["id"] == made["id"]
    with pytest.raises(NotFound):
        client.get_channel(made["id"])
    with pytest.raises(BadRequest):
        client.create_channel(name + "-bad", "email")  # no addresses


def test_audit_notifications_explain_and_chains(client: schedo.Client, name: str) -> None:
    up = client.define_job(name, NEVER)
    down = client.define_job(name + "-after", NEVER, after=[name])
    client.pause_job(up.id)
    events = client.list_audit(job_id=up.id)
    assert [e["action"] for e in events][:2] == ["paused", "created"], events
    assert client.list_audit(job_id=up.id, action="paused", limit=1)[0]["action"] == "paused"
    older = client.list_audit(job_id=up.id, cursor=events[0]["id"])
    assert [e["id"] for e in older] == [e["id"] for e in events[1:]]
    assert isinstance(client.list_notifications(limit=5), list)
    said = client.explain_job(up.id, "2027-01-01T00:00:00Z")
    assert said["fires"] is True, said
    assert client.explain_job(up.id, 1798848000)["fires"] is False  # 2027-01-01T00:00:00+01
    chain = client.job_chain(down.id)
    assert [j["name"] for j in chain["upstream"]] == [name]
    assert [j["name"] for j in client.job_chain(up.id)["downstream"]] == [name + "-after"]
    run = client.trigger_job(down.id)
    assert client.run_chain(run.id)["execution"]["id"] == run.id
    with pytest.raises(NotFound):
        client.job_chain(987654)


def test_extensions_refuse_a_read_only_key(client: schedo.Client, server: ServerProcess,
                                           name: str) -> None:
    key = client.create_api_key(1, name, scope="read").key
    assert key
    with schedo.Client(key, server.url) as reader:
        assert isinstance(reader.list_channels(), list)
        with pytest.raises(Forbidden):
            reader.create_channel(name, "email", addresses=["a@example.com"])
        with pytest.raises(Forbidden):
            reader.webhook_secret(1)


async def test_async_client_extensions(server: ServerProcess) -> None:
    async with schedo.AsyncClient(ADMIN_KEY, server.url) as c:
        env = min(e.id for e in await c.list_environments())
        assert (await c.webhook_secret(env))["environment_id"] == env
        assert isinstance(await c.list_channels(), list)
        assert isinstance(await c.list_audit(limit=1), list)


# -- every route has an endpoint function ------------------------------------------------------


def _argument(p: inspect.Parameter) -> Any:
    kind = str(p.annotation)
    if p.name == "jobs":
        return ["a-job"]
    if p.name in ("start", "end", "until", "at"):
        return "2026-01-01T00:00:00Z"
    if p.name == "reports" or "Sequence" in kind:
        return []
    if ("int" in kind and "str" not in kind) or p.name.endswith("_id") or p.name == "count":
        return 7
    if "Mapping" in kind:
        return {}
    return "x"


def _calls() -> list[Call[Any]]:
    made = []
    for module in (endpoints, admin_endpoints):
        for fname, fn in inspect.getmembers(module, inspect.isfunction):
            if fname.startswith("_") or fn.__module__ != module.__name__:
                continue
            sig = inspect.signature(fn)
            args = {n: _argument(p) for n, p in sig.parameters.items()
                    if p.default is inspect.Parameter.empty}
            got = fn(**args)
            if isinstance(got, Call):
                made.append(got)
    # the flags that change the path
    made.append(endpoints.define_job("x", NEVER, internal=True))
    return made


def _template(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


async def test_every_api_route_has_a_client_call(api: Any) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    routes = {(m.upper(), _template(p)) for p, ops in spec["paths"].items() for m in ops
              if not NOT_CLIENT.match(p)}
    sent = {(c.method, re.sub(r"/7(?=/|$)", "/{}", c.path)) for c in _calls()}
    missing = sorted(routes - sent)
    assert not missing, f"no schedo.Client call sends {missing}"
    unknown = sorted(sent - routes)
    assert not unknown, f"calls to routes the server does not have: {unknown}"


def test_every_endpoint_function_is_a_client_method() -> None:
    for module in (endpoints, admin_endpoints):
        for fname, fn in inspect.getmembers(module, inspect.isfunction):
            if fname.startswith("_") or fn.__module__ != module.__name__:
                continue
            if inspect.signature(fn).return_annotation.startswith("Call"):
                assert hasattr(schedo.Client, fname), fname
                assert hasattr(schedo.AsyncClient, fname), fname


def test_the_raw_routes_answer_like_the_client_reads_them(server: ServerProcess) -> None:
    # the client's dict answers are the server's JSON as sent (no renaming on the way)
    r = httpx.get(server.url + "/org/channels", headers={"x-api-key": ADMIN_KEY}, timeout=10)
    with schedo.Client(ADMIN_KEY, server.url) as c:
        assert c.list_channels() == r.json()
