"""The console log format (observability/logs.py): structlog without rich, plain tracebacks
(rich's took seconds of event-loop CPU each during a database outage), without the frames'
locals."""

from __future__ import annotations

import logging
import subprocess
import sys

PROBE = """
import logging, sys
from schedo.server.observability import logs
assert "rich" not in sys.modules, "rich imported with structlog"
fmt = logs.formatter("console")
def fail(api_key):
    raise RuntimeError("the failure")
try:
    fail("sk_secret_local_value")
except RuntimeError:
    record = logging.LogRecord("schedo.test", logging.ERROR, "probe", 1, "boom", None,
                               sys.exc_info())
text = fmt.format(record)
assert "rich" not in sys.modules, "a traceback loaded rich"
print(text)
"""


def test_console_tracebacks_are_plain_without_rich_or_locals() -> None:
    r = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert "RuntimeError" in r.stdout and "the failure" in r.stdout
    assert "Traceback (most recent call last)" in r.stdout and "╭" not in r.stdout
    # the source of ``-c`` code is not shown, so the value could only come from the locals
    assert "sk_secret_local_value" not in r.stdout


def test_json_format_is_unchanged() -> None:
    from schedo.server.observability import logs

    record = logging.LogRecord("schedo.test", logging.INFO, __file__, 1, "hello %s", ("x",),
                               None)
    assert '"event": "hello x"' in logs.formatter("json").format(record)
