"""README.md still has the code blocks ``tests/install/readme_check.py`` runs (issue 16).

``.ci/run`` runs that script, which installs and starts everything in fresh venvs (slow); this
checks only the extraction, so a README edit that would break it fails fast in pytest.
"""

from __future__ import annotations

import ast
import json
import shlex

import pytest

from tests.install import readme_check as rc


def test_first_block_is_the_server_install_line() -> None:
    line = rc.server_install_line()
    assert line == (
        "python3 -m venv .venv && . .venv/bin/activate && "
        "python3 -m pip install -e '.[server]' && schedo serve"
    )
    install, serve = rc.without_venv(line)
    assert install.startswith("python3 -m pip install ")
    assert serve == "schedo serve"


def test_test_command() -> None:
    line = rc.tests_line()
    assert rc.without_venv(line) == [
        "python3 -m pip install -e '.[server,test]'", "python3 -m pytest"
    ]


def test_curl_block_defines_the_example_job() -> None:
    curl = rc.curl_define()
    args = shlex.split(curl)
    assert args[0] == "curl"
    assert "localhost:8000/jobs/definition" in curl
    assert "x-api-key: $KEY" in curl
    body = json.loads(args[args.index("-d") + 1])
    assert body["name"] == rc.defined_name(curl) == "nightly-report"
    assert body["schedule"]


def test_myapp_block_defines_the_same_job() -> None:
    source = rc.myapp_source()
    tree = ast.parse(source)  # valid Python
    assert any(isinstance(n, ast.AsyncFunctionDef | ast.FunctionDef) for n in tree.body)
    assert "from schedo import Schedo" in source
    assert "123" in source  # the output the check waits for
    # the worker redefines the curl example's job by name, so triggering it runs the handler
    assert rc.job_name(source) == rc.defined_name(rc.curl_define())


def test_worker_lines() -> None:
    export, worker = rc.worker_lines()
    assert "SCHEDO_API_KEY=$KEY" in export
    assert "SCHEDO_BASE_URL=http://127.0.0.1:8000" in export
    assert shlex.split(worker, comments=True) == ["schedo", "worker", "myapp.py:app"]


def test_sdk_install_sentence() -> None:
    assert rc.sdk_install_text() == "pip install ."


def test_extraction_follows_headings_and_continuations() -> None:
    readme = (
        "# T\n\n## Run the server\n\n```sh\npython3 -m pip install -e '.[server]' && "
        "schedo serve\n```\n\n## Try it with curl\n\n```sh\nexport KEY=...\n"
        'curl -s localhost:8000/jobs/definition \\\n     -d \'{"name": "x"}\'\n```\n'
    )
    found = rc.blocks(readme)
    assert [(b.section, b.lang) for b in found] == [
        ("Run the server", "sh"),
        ("Try it with curl", "sh"),
    ]
    assert rc.curl_define(readme) == 'curl -s localhost:8000/jobs/definition -d \'{"name": "x"}\''
    with pytest.raises(rc.CheckFailed, match="Run jobs from Python"):
        rc.myapp_source(readme)
    with pytest.raises(rc.CheckFailed, match="not closed"):
        rc.blocks("## Run the server\n```sh\nschedo serve\n")


def test_ci_runs_the_readmes_test_command() -> None:
    """``.ci/run`` installs and tests exactly as the README's "Run the tests" line says, so the
    README cannot drift from what CI runs (issue 16)."""
    from pathlib import Path

    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text().splitlines()
    install, test = rc.without_venv(rc.tests_line())
    commands = [line.strip() for line in ci if line.strip() and not line.lstrip().startswith("#")]
    pip = [c for c in commands if c.startswith("python3 -m pip install")]
    assert len(pip) == 1, pip
    # CI adds only quiet flags to the README's install command
    assert pip[0].replace(" --quiet", "").replace(" --disable-pip-version-check", "") == install
    assert commands[-1] == test, "the README's test command is the last thing .ci/run does"
    assert "python3 -m venv .venv && . .venv/bin/activate" in commands
