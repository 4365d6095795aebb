"""Keep secrets out of DEBUG logs.

At DEBUG, SQLAlchemy's engine logger writes every statement *with its parameters* and the
rows it reads, and aiosqlite logs each call with its arguments: API key digests, the key
pepper and the environments' webhook signature keys would land in the log. These loggers are
held at WARNING whatever ``SCHEDO_LOG_LEVEL`` says (``logs.configure`` calls this).
"""

from __future__ import annotations

import logging

NOISY = ("sqlalchemy", "aiosqlite", "asyncpg")


def quiet_secret_loggers() -> None:
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
