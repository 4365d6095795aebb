"""Revoking a key or deleting an environment ends the open live-output follow streams and cancel
watches of that key at once, as it ends pull streams and long polls (issue 23, point 2).

In process: the stream or watch is known to be waiting once it watches its bus signal (no
sleep); it must then end within a deadline far below its own wait (the follow stream never
ends by itself while its run runs; the watch waits 20 s). Across server processes:
tests/e2e/test_revocation.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx
import pytest

from schedo.server.runtime.bus import Signal
from tests.conftest import Api

ENDS_WITHIN = 8.0  # seconds; the watch's own wait is 20, the follow stream has none


async def _until(cond: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10.0
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def _watching(signal: Signal) -> bool:
    return bool(signal._watches)


async def _setup(api: Api, how: str, name: str) -> tuple[dict[str, str], dict, int]:
    """An environment key (in a new environment for ``delete-environment``) holding a running
    run of a job; returns (its headers, the run, the key id)."""
    env_id = 1
    if how == "delete-environment":
        env_id = (await api.client.post("/org/environments", json={"name": name},
                                        headers=api.admin)).json()["id"]
    made = (await api.client.post("/apikeys", json={"environment_id": env_id, "name": name},
                                  headers=api.admin)).json()
    key = {"x-api-key": made["key"]}
    job = await api.define(headers=key, name=name, schedule="0 0 1 1 *")
    await api.client.post(f"/jobs/trigger/{job['id']}", headers=key)
    [run] = (await api.client.get(f"/jobs/executions?jobs={name}&wait=0", headers=key)).json()
    return key, run, env_id if how == "delete-environment" else made["id"]


async def _act(api: Api, how: str, target: int) -> None:
    if how == "revoke-key":
        r = await api.client.delete(f"/apikeys/revoke/{target}", headers=api.admin)
    else:
        r = await api.client.delete(f"/org/environments/{target}", headers=api.admin)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("how", ["revoke-key", "delete-environment"])
async def test_a_follow_stream_ends_with_an_error_event(api: Api, how: str) -> None:
    key, run, target = await _setup(api, how, f"follow-{how}")
    url = f"/jobs/executions/{run['id']}/log"
    await api.client.post(url, json={"lines": [{"text": "before"}]}, headers=key)

    async def follow() -> httpx.Response:
        async with api.client.stream("GET", f"{url}?follow=1", headers=key) as r:
            await r.aread()
            return r

    task = asyncio.create_task(follow())
    await _until(lambda: _watching(api.svc.bus.log_appended), "the follower to wait")
    await _act(api, how, target)
    r = await asyncio.wait_for(task, ENDS_WITHIN)
    assert r.status_code == 200
    text = r.text
    assert '"line":"before"' in text  # what was there was streamed first
    assert "event: error" in text, text
    data = [line[6:] for line in text.splitlines() if line.startswith("data: ")][-1]
    assert json.loads(data)["status"] == 401
    assert "event: end" not in text
    # and the key cannot open another one
    again = await api.client.get(f"{url}?follow=1", headers=key)
    assert again.status_code == 401


@pytest.mark.parametrize("how", ["revoke-key", "delete-environment"])
async def test_a_cancel_watch_ends_with_401(api: Api, how: str) -> None:
    key, run, target = await _setup(api, how, f"watch-{how}")
    task = asyncio.create_task(api.client.post(
        "/jobs/executions/cancelled?wait=20", json={"ids": [run["id"]]}, headers=key))
    await _until(lambda: _watching(api.svc.bus.runs_cancelled), "the watch to wait")
    await _act(api, how, target)
    r = await asyncio.wait_for(task, ENDS_WITHIN)
    assert r.status_code == 401, r.text
    assert "revoked" in r.json()["message"]


async def test_an_unrelated_revocation_does_not_end_a_follow_stream(api: Api) -> None:
    """Another key's revocation wakes the follower (it checks), and it goes on."""
    key, run, _ = await _setup(api, "revoke-key", "follow-unrelated")
    other = (await api.client.post("/apikeys", json={"environment_id": 1, "name": "other"},
                                   headers=api.admin)).json()
    url = f"/jobs/executions/{run['id']}/log"

    async def follow() -> httpx.Response:
        async with api.client.stream("GET", f"{url}?follow=1", headers=key) as r:
            await r.aread()
            return r

    task = asyncio.create_task(follow())
    await _until(lambda: _watching(api.svc.bus.log_appended), "the follower to wait")
    await _act(api, "revoke-key", other["id"])
    await api.client.post(url, json={"lines": [{"text": "after"}]}, headers=key)
    await api.client.post(f"/jobs/executions/complete/{run['id']}", json={"success": True},
                          headers=key)
    r = await asyncio.wait_for(task, ENDS_WITHIN)
    assert '"line":"after"' in r.text and "event: end" in r.text
    assert "event: error" not in r.text


async def test_a_follow_stream_of_a_run_deleted_with_its_job_ends_with_a_404_event(
    api: Api,
) -> None:
    """Not an access matter, but the same end: the run is gone (deleted with its job), so the
    stream says so and closes, rather than breaking off mid-stream."""
    key, run, _ = await _setup(api, "revoke-key", "follow-deleted-job")
    url = f"/jobs/executions/{run['id']}/log"

    async def follow() -> httpx.Response:
        async with api.client.stream("GET", f"{url}?follow=1", headers=key) as r:
            await r.aread()
            return r

    task = asyncio.create_task(follow())
    await _until(lambda: _watching(api.svc.bus.log_appended), "the follower to wait")
    r = await api.client.delete(f"/jobs/{run['job_id']}", headers=key)
    assert r.status_code == 200, r.text
    r = await asyncio.wait_for(task, ENDS_WITHIN)
    assert "event: error" in r.text, r.text
    data = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")][-1]
    assert json.loads(data)["status"] == 404
