"""The console log format (observability/logs.py): structlog without rich at import, rich's
traceback at the first exception logged, without the frames' locals."""

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
assert "rich" in sys.modules
print(text)
"""


def test_console_traceback_loads_rich_at_first_use_and_hides_locals() -> None:
    r = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert "RuntimeError" in r.stdout and "the failure" in r.stdout
    # the source of ``-c`` code is not shown, so the value could only come from the locals
    assert "sk_secret_local_value" not in r.stdout


def test_json_format_is_unchanged() -> None:
    from schedo.server.observability import logs

    record = logging.LogRecord("schedo.test", logging.INFO, __file__, 1, "hello %s", ("x",),
                               None)
    assert '"event": "hello x"' in logs.formatter("json").format(record)
