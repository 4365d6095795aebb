"""Input limits shared by the SDK and the server: one definition of each bound.

The server enforces these (``server/services/validation.py``, ``services/runs.py``,
``services/pull.py``, ``api/pull.py``, ``api/middleware.py``, the ``Id`` path parameters); the
SDK checks a definition against the same numbers before sending it (``sdk/app.py``) and sizes
its pulls, reports, live output and cancel watch to fit them (``sdk/worker.py``,
``sdk/runner.py``, ``sdk/live_log.py``, ``sdk/cancel_watch.py``); the CLI uses them for its
options and the agent's output (``cli/``). Pure constants, no
imports: ``import schedo`` (the SDK alone, without the ``server`` extra) loads this module.
"""

from __future__ import annotations

# -- ids ---------------------------------------------------------------------------------------

MAX_ID = 2**31 - 1
"""The largest id of any record: ids are 32-bit integer columns on PostgreSQL."""
ID_DIGITS = r"[1-9][0-9]{0,18}"
"""How an id is written in a path, a query or ``X-API-ENVIRONMENT``: its digits alone (no sign,
no leading zero, no ``_``); a pattern for ``re.fullmatch``."""

# -- a job definition ----------------------------------------------------------------------------

NAME_MIN = 4
"""Characters of a job name, at least."""
NAME_MAX = 200
"""Characters of a name (job, environment, API key), at most."""
TIMEOUT_MAX = 24 * 3600
"""``timeout_seconds`` of a job, at most (24 h); at least 1."""
RETRIES_MAX = 100
"""``max_retries`` of a job, at most; at least 0."""
PAYLOAD_MAX_BYTES = 64 * 1024
"""A manual trigger's payload as compact UTF-8 JSON, at most (413 above)."""
JITTER_MAX = 3600
"""``jitter_seconds`` of a job, at most (1 h); at least 0."""
METADATA_MAX_BYTES = 64 * 1024
"""A job's metadata as compact UTF-8 JSON, at most."""
METADATA_MAX_KEYS = 1000
"""Object keys at every level of a job's metadata, in all."""
URL_MAX = 2048
"""Characters of a webhook URL, at most."""
COMMAND_MAX = 8 * 1024
"""Characters of a command job's command, at most."""
EMAIL_MAX = 320
"""Characters of an email address, at most."""

# -- request bodies ------------------------------------------------------------------------------

JSON_MAX_DEPTH = 32
"""Nesting of a JSON request body, at most (deeper bodies are refused before parsing)."""

# -- reports -------------------------------------------------------------------------------------

OUTPUT_MAX_BYTES = 64 * 1024
"""UTF-8 bytes of a run's output the server keeps (the head; the rest is cut)."""
ERROR_MAX_BYTES = 16 * 1024
"""UTF-8 bytes of a run's error the server keeps."""

# -- pulls ---------------------------------------------------------------------------------------

PULL_MAX_RUNS = 100
"""Runs one pull may ask for (``limit``)."""
PULL_MAX_CODES = 5000
"""Job codes in one pull (``jobs=a,b,...``)."""
PULL_JOBS_MAX_CHARS = 32_768
"""Characters of the ``jobs`` query parameter of one pull (it must fit one request line)."""

# -- lists ---------------------------------------------------------------------------------------

PAGE_MAX = 200
"""Items of one page of a list (``limit`` of ``GET /jobs/executions/{id}``,
``GET /org/notifications``)."""

# -- runs while they run -------------------------------------------------------------------------

LIVE_LINE_MAX = 8192
"""Characters of one live output line (the server cuts a longer one with a marker; the SDK
and the agent cut or split before sending)."""
LIVE_BATCH_MAX_LINES = 1000
"""Lines of one ``POST /jobs/executions/{id}/log`` (a larger batch: 413)."""
CANCEL_WATCH_MAX_IDS = 1000
"""Execution ids of one cancel watch (``POST /jobs/executions/cancelled``)."""

# -- batches and agents ----------------------------------------------------------------------------

REPORT_BATCH_MAX = 1000
"""Reports of one ``POST /jobs/executions/complete`` (the SDK sends smaller batches)."""
TAGS_MAX = 10
"""Tags of one agent (``--tag``) and of one command job's target."""
