"""Alert channels of an environment (issue 19): create, list, read, replace, delete, each
checked (``ChannelStore``). Kinds: ``email`` (1-50 addresses), ``webhook`` (a URL that gets
the notification JSON signed like push requests) and ``slack`` (a Slack or Mattermost
incoming-webhook URL that gets ``{"text": ...}``). URLs follow the push address policy."""

from __future__ import annotations

from typing import Any

from ..domain.errors import InvalidInput
from ..domain.model import ChannelKind
from ..domain.records import Channel
from . import validation
from .context import Principal, Services

KINDS = tuple(ChannelKind)
ADDRESSES_MAX = 50


def checked(svc: Services, body: dict[str, Any]) -> tuple[str, str, list[str], str | None]:
    """(name, kind, addresses, url) of a channel body, or InvalidInput naming the field."""
    name = validation.plain_name(body["name"])
    kind = body["kind"]
    if kind not in KINDS:
        raise InvalidInput("kind: must be one of email, webhook, slack")
    addresses, url = body.get("addresses"), body.get("url")
    if kind == ChannelKind.EMAIL:
        if url is not None:
            raise InvalidInput("url: an email channel has addresses, not a url")
        if not addresses:
            raise InvalidInput("addresses: an email channel needs at least one address")
        if len(addresses) > ADDRESSES_MAX:
            raise InvalidInput(f"addresses: at most {ADDRESSES_MAX}")
        return name, kind, list(dict.fromkeys(validation.email(a) for a in addresses)), None
    if addresses is not None:
        raise InvalidInput(f"addresses: a {kind} channel has a url, not addresses")
    if not url:
        raise InvalidInput(f"url: a {kind} channel needs a url")
    return name, kind, [], validation.webhook_url(
        url, "url", allow_private=svc.settings.allow_private_webhooks)


async def create(svc: Services, p: Principal, body: dict[str, Any]) -> Channel:
    name, kind, addresses, url = checked(svc, body)
    return await svc.store.create_channel(p.env_id, name, kind, addresses, url,
                                          svc.clock.now(), actor=p.actor)


async def list_all(svc: Services, p: Principal) -> list[Channel]:
    return await svc.store.list_channels(p.env_id)


async def get(svc: Services, p: Principal, channel_id: int) -> Channel:
    return await svc.store.get_channel(p.env_id, channel_id)


async def replace(svc: Services, p: Principal, channel_id: int,
                  body: dict[str, Any]) -> Channel:
    name, kind, addresses, url = checked(svc, body)
    return await svc.store.update_channel(p.env_id, channel_id, name, kind, addresses, url,
                                          actor=p.actor, now=svc.clock.now())


async def delete(svc: Services, p: Principal, channel_id: int) -> Channel:
    return await svc.store.delete_channel(p.env_id, channel_id, actor=p.actor,
                                          now=svc.clock.now())


async def job_channels(svc: Services, p: Principal, names: list[str] | None
                       ) -> list[str] | None:
    """A definition's ``channels``: names of channels of the key's environment (each once),
    or None (all of them)."""
    if names is None:
        return None
    if len(names) > ADDRESSES_MAX:
        raise InvalidInput(f"channels: at most {ADDRESSES_MAX}")
    known = {c.name for c in await svc.store.list_channels(p.env_id)}
    for n in names:
        if n not in known:
            raise InvalidInput(f"channels: no channel named {n[:100]!r} in this environment")
    return list(dict.fromkeys(names))
