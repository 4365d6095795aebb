"""A benchmark worker process: the SDK's own worker runtime (``schedo.sdk.worker.Worker``:
long poll, run, batched reports) with a no-op ``async`` handler for every job code it is given.

    python -m bench.sdk_worker --codes-file codes.txt [--per-app 500] [--concurrency 100]

Two differences from ``schedo worker app.py:app``, both because of how the benchmark sets up:

- the definitions were bulk-loaded (bench/loader.py), so the worker's define step is skipped;
- the SDK names all of an app's codes in one pull and the server caps the codes of one pull
  (``MAX_CODES``: 500 until commit 0cb234f, 5,000 since), so codes beyond ``--per-app`` go to
  further apps, each with its own pull loop, all in this one process. With the default sizes
  and the 5,000 cap, every process runs exactly one app, as ``schedo worker`` would.

Stops on SIGTERM/SIGINT (graceful, as the SDK does) or after ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from schedo import JobContext, Schedo
from schedo.sdk.async_client import AsyncClient
from schedo.sdk.worker import Worker


async def noop(ctx: JobContext) -> None:
    return None


class BulkLoadedWorker(Worker):
    async def _define_all(self) -> None:  # the bench bulk-loaded the definitions
        return None


async def main(codes: list[str], per_app: int, concurrency: int, max_seconds: float) -> int:
    key = os.environ["SCHEDO_API_KEY"]
    base = os.environ["SCHEDO_BASE_URL"]
    workers: list[Worker] = []
    clients: list[AsyncClient] = []
    for i in range(0, len(codes), per_app):
        app = Schedo(concurrency=concurrency)
        for code in codes[i : i + per_app]:
            app.job(code, "0 0 1 1 *", timeout=60)(noop)
        client = AsyncClient(key, base, timeout=30.0)
        clients.append(client)
        workers.append(BulkLoadedWorker(app.jobs, client, concurrency=concurrency))
    loop = asyncio.get_running_loop()

    def stop(reason: str) -> None:
        for w in workers:
            w.request_stop(reason)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop, sig.name)
    loop.call_later(max_seconds, stop, "time limit")
    try:
        codes_out = await asyncio.gather(*(w.run() for w in workers))
    finally:
        for c in clients:
            await c.aclose()
    return max(codes_out, default=0)


def cli() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--codes-file", type=Path, required=True)
    p.add_argument("--per-app", type=int, default=5000)
    p.add_argument("--concurrency", type=int, default=100)
    p.add_argument("--max-seconds", type=float, default=1800)
    a = p.parse_args()
    logging.basicConfig(
        level=os.environ.get("SCHEDO_LOG_LEVEL", "INFO"),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    codes = [c for c in a.codes_file.read_text().split() if c]
    sys.exit(asyncio.run(main(codes, a.per_app, a.concurrency, a.max_seconds)))


if __name__ == "__main__":
    cli()
