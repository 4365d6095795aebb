"""Worker pulls (SPEC 2.3): claims are exclusive, long polls wake at once, connections count."""

from __future__ import annotations

import asyncio

from tests.conftest import Api


async def test_concurrent_pollers_never_share_an_execution(api: Api) -> None:
    job = await api.define(name="shared-job")
    for _ in range(40):
        await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin)

    async def poll() -> list[int]:
        r = await api.client.get("/jobs/executions?jobs=shared-job&limit=3&wait=0",
                                 headers=api.admin)
        assert r.status_code == 200
        return [e["id"] for e in r.json()]

    got: list[int] = []
    for batch in await asyncio.gather(*(poll() for _ in range(20))):
        got.extend(batch)
    assert len(got) == len(set(got)) == 40
    runs = (await api.client.get(f"/jobs/executions/{job['id']}", headers=api.admin)).json()
    assert all(e["status"] == "running" and e["pick_up_time"] for e in runs)


async def test_long_poll_wakes_when_a_run_is_created(api: Api) -> None:
    job = await api.define(name="wake-me")
    loop = asyncio.get_running_loop()
    started = loop.time()
    poll = asyncio.create_task(api.client.get("/jobs/executions?jobs=wake-me&wait=20",
                                              headers=api.admin))
    await asyncio.sleep(0.3)
    assert not poll.done()
    await api.client.post(f"/jobs/trigger/{job['id']}", headers=api.admin)
    r = await asyncio.wait_for(poll, 5)
    assert [e["job_code"] for e in r.json()] == ["wake-me"]
    assert loop.time() - started < 5  # woken, not timed out at 20 s


async def test_a_waiting_poll_is_woken_only_by_runs_of_its_own_jobs(api: Api) -> None:
    """Thousands of idle pollers must not all query the database at every tick: a run of
    another job (or of the same name in another environment) does not wake the wait."""
    mine = await api.define(name="wake-only-me")
    other = await api.define(name="not-my-job")
    store = api.svc.store
    claims = 0
    real_claim = store.claim

    async def counting_claim(*args: object, **kw: object) -> object:
        nonlocal claims
        claims += 1
        return await real_claim(*args, **kw)  # type: ignore[arg-type]

    store.claim = counting_claim  # type: ignore[method-assign]
    poll = asyncio.create_task(api.client.get("/jobs/executions?jobs=wake-only-me&wait=20",
                                              headers=api.admin))
    await asyncio.sleep(0.3)
    assert claims == 1  # the first look found nothing
    for _ in range(5):
        await api.client.post(f"/jobs/trigger/{other['id']}", headers=api.admin)
    await asyncio.sleep(0.3)
    assert not poll.done() and claims == 1  # not woken by the other job's runs
    await api.client.post(f"/jobs/trigger/{mine['id']}", headers=api.admin)
    r = await asyncio.wait_for(poll, 5)
    assert [e["job_code"] for e in r.json()] == ["wake-only-me"]
    assert claims == 2


async def test_long_poll_returns_empty_after_wait(api: Api) -> None:
    await api.define(name="idle-job")
    r = await api.client.get("/jobs/executions?jobs=idle-job&wait=0.2", headers=api.admin)
    assert r.status_code == 200 and r.json() == []


async def test_pull_filters_by_codes_type_and_environment(api: Api) -> None:
    a = await api.define(name="mine-job")
    b = await api.define(name="other-job")
    p = await api.define(name="push-job", webhook_url="https://example.com/h")
    for j in (a, b, p):
        await api.client.post(f"/jobs/trigger/{j['id']}", headers=api.admin)
    r = await api.client.get("/jobs/executions?jobs=mine-job,push-job", headers=api.admin)
    assert [e["job_code"] for e in r.json()] == ["mine-job"]
    env2 = (await api.client.post("/org/environments", json={"name": "e2"},
                                  headers=api.admin)).json()
    k2 = await api.env_key(env2["id"])
    r = await api.client.get("/jobs/executions?jobs=other-job", headers=k2)
    assert r.json() == []


async def test_bad_pull_parameters(api: Api) -> None:
    for q in ("", "?jobs=", "?jobs=ab", "?jobs=a-job&wait=31", "?jobs=a-job&wait=-1",
              "?jobs=a-job&limit=0", "?jobs=a-job&limit=101", "?jobs=a-job&wait=x"):
        r = await api.client.get("/jobs/executions" + q, headers=api.admin)
        assert r.status_code == 400, (q, r.text)
    assert (await api.client.get("/jobs/executions?jobs=a-job")).status_code == 401


async def test_connections_count_follows_recent_polls(api: Api) -> None:
    job = await api.define(name="counted-job")
    for worker in ("w1", "w2"):
        await api.client.get("/jobs/executions?jobs=counted-job",
                             headers={**api.admin, "x-schedo-worker-id": worker})
    assert (await api.client.get(f"/jobs/{job['id']}/connections/count",
                                 headers=api.admin)).json() == 2
    listed = (await api.client.get("/jobs/list", headers=api.admin)).json()
    assert listed[0]["connections_count"] == 2
    api.clock.advance(31)
    assert (await api.client.get(f"/jobs/{job['id']}",
                                 headers=api.admin)).json()["connections_count"] == 0


async def test_a_worker_with_many_jobs_writes_its_codes_once_then_only_heartbeats(
    api: Api,
) -> None:
    """Connection tracking must not rewrite one row per job code at every refresh (a worker
    serving 100,000 jobs would write 10,000 rows a second)."""
    codes = [f"many-{i:03d}" for i in range(300)]
    job = await api.define(name=codes[0])
    store = api.svc.store
    writes: list[tuple[str, int]] = []
    touch, beat = store.touch_connections, store.heartbeat

    async def counting_touch(env_id: int, cs: list[str], worker: str, now: object,
                             agent: object = None) -> None:
        writes.append(("codes", len(cs)))
        await touch(env_id, cs, worker, now, agent)  # type: ignore[arg-type]

    async def counting_beat(env_id: int, worker: str, now: object, agent: object = None) -> None:
        writes.append(("beat", 1))
        await beat(env_id, worker, now, agent)  # type: ignore[arg-type]

    store.touch_connections = counting_touch  # type: ignore[method-assign]
    store.heartbeat = counting_beat  # type: ignore[method-assign]
    url = "/jobs/executions?wait=0&jobs=" + ",".join(codes)
    headers = {**api.admin, "x-schedo-worker-id": "big-worker"}

    async def count() -> int:
        r = await api.client.get(f"/jobs/{job['id']}/connections/count", headers=api.admin)
        n: int = r.json()
        return n

    for _ in range(6):  # a minute of polls, one every 10 s
        assert (await api.client.get(url, headers=headers)).status_code == 200
        assert await count() == 1
        api.clock.advance(10)
    assert writes[0] == ("codes", 300)
    assert writes[1:] == [("beat", 1)] * 5
    api.clock.advance(25)  # 35 s since the last poll: not connected any more
    assert await count() == 0
    assert (await api.client.get(url, headers=headers)).status_code == 200
    assert await count() == 1 and writes[-1] == ("beat", 1)


async def test_agents_pull_command_runs_without_naming_jobs(api: Api) -> None:
    cmd = await api.define(name="cmd-job", command="echo hi")
    sdk = await api.define(name="sdk-job")
    for j in (cmd, sdk):
        await api.client.post(f"/jobs/trigger/{j['id']}", headers=api.admin)
    r = await api.client.get("/jobs/executions?type=command", headers=api.admin)
    assert [e["job_code"] for e in r.json()] == ["cmd-job"]
    r = await api.client.get("/jobs/executions?jobs=cmd-job", headers=api.admin)
    assert r.json() == []  # sdk workers never receive command runs
    r = await api.client.get("/jobs/executions?type=shell", headers=api.admin)
    assert r.status_code == 400 and "type" in r.json()["message"]
