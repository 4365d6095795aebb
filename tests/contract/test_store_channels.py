"""Contract: ChannelStore, the fan-out's routing by channel, and AlertStore's reminders
(issue 19), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from schedo.server.domain.errors import Conflict, NotFound
from tests.contract.kit import FAIL, OK, T0, World, at
from tests.contract.test_store_notifications import ended

HOOK = "https://alerts.example.com/schedo"


async def test_channels_crud_in_their_environment(world: World) -> None:
    s = world.store
    c = await s.create_channel(world.env, "ops", "email", ["a@example.com"], None, T0)
    assert (c.kind, c.addresses, c.url) == ("email", ["a@example.com"], None)
    with pytest.raises(Conflict):
        await s.create_channel(world.env, "ops", "slack", [], "https://e.com/x", T0)
    same_name_elsewhere = await s.create_channel(world.env2, "ops", "slack", [],
                                                 "https://e.com/x", T0)
    assert same_name_elsewhere.id != c.id
    for call in (s.get_channel(world.other_env, c.id), s.delete_channel(world.env2, c.id),
                 s.update_channel(world.other_env, c.id, "x", "slack", [], "https://e.com")):
        with pytest.raises(NotFound):
            await call
    up = await s.update_channel(world.env, c.id, "chat", "slack", [], "https://e.com/y")
    assert (up.name, up.kind, up.addresses, up.url) == ("chat", "slack", [], "https://e.com/y")
    assert [x.name for x in await s.list_channels(world.env)] == ["chat"]
    assert (await s.delete_channel(world.env, c.id)).id == c.id
    assert await s.list_channels(world.env) == []


async def test_fan_out_routes_by_the_jobs_channels(world: World) -> None:
    s = world.store
    await s.add_email(world.org, "org@example.com", T0)
    await s.create_channel(world.env, "mail", "email", ["a@example.com", "b@example.com"],
                           None, T0)
    await s.create_channel(world.env, "chat", "slack", [], "https://chat.example.com/h", T0)
    await s.create_channel(world.env, "mail2", "email", ["a@example.com"], None, T0)
    await ended(world, "all-job")
    await ended(world, "chat-job", channels=["chat"])
    await ended(world, "none-job", channels=[])
    await ended(world, "env2-job", env=world.env2)  # no channels there: the org list
    assert await s.fan_out(at(5), HOOK, 10) == 4
    got = {r.notification.job_name: [(d.channel, d.target) for d in r.deliveries]
           for r in await s.list_notifications(world.org, 10)}
    assert got == {
        "all-job": [("email", "a@example.com"), ("email", "b@example.com"),
                    ("slack", "https://chat.example.com/h"), ("webhook", HOOK)],
        "chat-job": [("slack", "https://chat.example.com/h"), ("webhook", HOOK)],
        "none-job": [("webhook", HOOK)],
        "env2-job": [("email", "org@example.com"), ("webhook", HOOK)],
    }


async def test_reminders_while_failing_once_per_due_time_and_run(world: World) -> None:
    s = world.store
    await ended(world, "nag-job", FAIL, now=T0, remind_every_seconds=600)
    assert await s.earliest_reminder_due() == at(601)
    assert await s.send_reminders(at(600)) == 0
    assert await s.send_reminders(at(601)) == 1
    assert await s.send_reminders(at(602)) == 0  # the next is due at 1201
    assert await s.earliest_reminder_due() == at(1201)
    assert await s.send_reminders(at(1201)) == 0  # no new run since: none (at most one per run)
    await ended(world, "nag-job", FAIL, now=at(1300))
    assert await s.send_reminders(at(1801)) == 1
    await ended(world, "nag-job", OK, now=at(1900))
    assert await s.earliest_reminder_due() is None
    kinds = [r.notification.kind for r in await s.list_notifications(world.org, 10)]
    assert kinds == ["recovered", "reminder", "reminder", "failing"]
