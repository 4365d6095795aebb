"""What ``pyproject.toml`` declares covers what the code imports (SPEC 5/6, issue 16).

- the server (``src/schedo/server``) needs only the base dependencies and the ``server`` extra:
  a fresh ``pip install '.[server]'`` must start ``schedo serve``;
- the SDK and the command line (everything else, plus the pure cron module that
  ``schedo cron next`` and the SDK's local schedule check use) need only the base
  dependencies: ``pip install schedo`` runs ``schedo worker`` and the management commands.

Imports are read statically (``ast``), every import anywhere in a file (also those inside
functions), so a lazily imported package counts too. ``.ci/run`` checks the same for real in
fresh virtual environments (tests/install/readme_check.py).
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "schedo"
SERVER = SRC / "server"
# server modules the SDK/CLI side loads (pure: stdlib + base dependencies)
SHARED = [SERVER / "domain" / "cron.py", SERVER / "domain" / "cron_fields.py"]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> tuple[set[str], dict[str, set[str]]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(reqs: list[str]) -> set[str]:
        return {_norm(re.match(r"[A-Za-z0-9._-]+", r).group(0)) for r in reqs}  # type: ignore[union-attr]

    extras = {k: names(v) for k, v in project["optional-dependencies"].items()}
    return names(project["dependencies"]), extras


def _third_party(files: list[Path]) -> dict[str, list[str]]:
    """Top-level third-party module name -> the files that import it."""
    found: dict[str, list[str]] = {}
    for path in files:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods = [node.module]
            else:
                continue
            for mod in mods:
                top = mod.split(".")[0]
                if top in sys.stdlib_module_names or top in ("schedo", "__future__"):
                    continue
                found.setdefault(top, []).append(str(path.relative_to(ROOT)))
    return found


def _missing(files: list[Path], allowed: set[str]) -> list[str]:
    dists = packages_distributions()
    problems = []
    for module, where in sorted(_third_party(files).items()):
        provided = {_norm(d) for d in dists.get(module, [module])}
        if not provided & allowed:
            problems.append(f"{module} (imported by {where[0]}) is not declared")
    return problems


def test_the_server_extra_holds_every_server_import() -> None:
    base, extras = _declared()
    files = sorted(SERVER.rglob("*.py"))
    assert files
    assert _missing(files, base | extras["server"]) == []


def test_the_base_install_holds_every_sdk_and_cli_import() -> None:
    base, _ = _declared()
    files = [p for p in sorted(SRC.rglob("*.py")) if SERVER not in p.parents] + SHARED
    assert any(p.name == "worker_cmd.py" for p in files)
    assert _missing(files, base) == []


def test_the_check_sees_a_missing_declaration() -> None:
    """The checker itself: a server import outside the base is reported without the extra."""
    base, _ = _declared()
    assert any("cryptography" in p for p in _missing(sorted(SERVER.rglob("*.py")), base))
