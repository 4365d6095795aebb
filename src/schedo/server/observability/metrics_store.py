"""Metrics observed at the outbound-HTTP seam (see ``metrics``); the storage seam is
``storage/metered.MeteredStore``.
"""

from __future__ import annotations

from typing import Any

from ..push.http import DeliveryResult, OutboundClient
from .metrics import Metrics


class MeteredOutboundClient(OutboundClient):
    """The push dispatcher's client, counting each delivery's outcome and duration."""

    def __init__(self, allow_private: bool, *, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(allow_private, **kwargs)
        self.metrics = metrics

    async def post(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        timeout: float,  # noqa: ASYNC109 (passed through)
    ) -> DeliveryResult:
        res = await super().post(url, body, headers, timeout)
        self.metrics.push_delivered(res.status, res.duration_ms)
        return res
