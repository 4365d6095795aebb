"""``schedo.webhooks`` during a signature key rotation (issue 22): a request signed with the
new and the previous key verifies with either key, or with both given; the hex header is the
previous key's; outside an overlap nothing changes (one entry, both headers strict)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from schedo import WebhookVerificationError, webhooks
from tests.sdk.test_webhooks import BODY, NOW, SECRET

NEW = "whk_the_new_secret_after_rotation_xyz"


def _std(key: str, msg_id: str = "msg_42_1", ts: int = NOW) -> str:
    digest = hmac.new(key.encode(), f"{msg_id}.{ts}.".encode() + BODY, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def test_sign_during_an_overlap_carries_both_new_first_and_the_old_hex() -> None:
    h = webhooks.sign(BODY, NEW, "msg_42_1", NOW, previous=SECRET)
    assert h["webhook-signature"] == f"{_std(NEW)} {_std(SECRET)}"
    assert h["x-schedo-signature"] == hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    alone = webhooks.sign(BODY, NEW, "msg_42_1", NOW)
    assert alone["webhook-signature"] == _std(NEW)
    assert alone["x-schedo-signature"] == hmac.new(NEW.encode(), BODY, hashlib.sha256).hexdigest()
    # the same key twice (or none) is one signature
    assert webhooks.sign(BODY, NEW, "msg_42_1", NOW, previous=NEW) == alone
    assert webhooks.sign(BODY, NEW, "msg_42_1", NOW, previous="") == alone


@pytest.mark.parametrize("secret", [SECRET, NEW, [NEW, SECRET], [SECRET, NEW], ("", NEW)])
def test_an_overlap_request_verifies_with_either_key(secret: str | list[str]) -> None:
    h = webhooks.sign(BODY, NEW, "msg_42_1", NOW, previous=SECRET)
    assert webhooks.verify(BODY, h, secret, now=NOW)["execution_id"] == 42


def test_an_overlap_request_is_refused_with_another_key_or_a_tampered_part() -> None:
    h = webhooks.sign(BODY, NEW, "msg_42_1", NOW, previous=SECRET)
    with pytest.raises(WebhookVerificationError, match="no v1 signature matches"):
        webhooks.verify(BODY, h, "some-other-key", now=NOW)
    with pytest.raises(WebhookVerificationError, match="no v1 signature matches"):
        webhooks.verify(BODY + b" ", h, NEW, now=NOW)
    with pytest.raises(WebhookVerificationError, match="no v1 signature matches"):
        webhooks.verify(BODY, {**h, "webhook-timestamp": str(NOW + 1)}, NEW, now=NOW)
    with pytest.raises(WebhookVerificationError, match="too old"):
        webhooks.verify(BODY, h, NEW, now=NOW + 301)
    with pytest.raises(WebhookVerificationError, match="no secret"):
        webhooks.verify(BODY, h, [], now=NOW)
    with pytest.raises(WebhookVerificationError, match="no secret"):
        webhooks.verify(BODY, h, ["", ""], now=NOW)


def test_after_the_overlap_the_old_key_no_longer_verifies() -> None:
    h = webhooks.sign(BODY, NEW, "msg_42_1", NOW)
    assert webhooks.verify(BODY, h, NEW, now=NOW)["job_id"] == 7
    assert webhooks.verify(BODY, h, [NEW, SECRET], now=NOW)["job_id"] == 7
    with pytest.raises(WebhookVerificationError, match="x-schedo-signature"):
        webhooks.verify(BODY, h, SECRET, now=NOW)


def test_one_entry_still_needs_a_matching_hex_signature() -> None:
    h = webhooks.sign(BODY, NEW, "msg_42_1", NOW)
    with pytest.raises(WebhookVerificationError, match="x-schedo-signature"):
        webhooks.verify(BODY, {**h, "x-schedo-signature": "00" * 32}, NEW, now=NOW)
