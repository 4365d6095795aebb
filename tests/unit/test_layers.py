"""The import layers of ``src/schedo`` (docs/architecture.md, "Layers"; issue 17).

Every ``import`` statement of every module is read with ``ast``: those at module level, inside
functions (lazy imports), and under ``if TYPE_CHECKING:``. Each rule below prints every import
that breaks it as ``file:line``, not only the first.

- **The SDK stands alone**: ``schedo`` (its ``__init__``), ``schedo.sdk``, ``schedo.webhooks``
  and ``schedo.limits`` import nothing of ``schedo.cli`` or ``schedo.server``, except the pure
  cron module (``SDK_USES_SERVER``), and that module pulls in nothing else of the server.
  ``schedo.limits`` is pure: the standard library only.
- **The CLI loads the server lazily**: ``schedo.cli`` imports ``schedo.server`` only inside
  functions (or for type checkers), so ``schedo worker`` runs on an SDK-only install.
- **Server layers run one way**: ``LAYERS``, top to bottom. A module imports its own package,
  or a package of a lower layer; packages of one layer do not import each other
  (``SAME_LAYER_ALLOWED`` lists the exceptions with their reason; ``LAYER_ALLOWLIST`` the
  imports that break the order today, to be fixed). The server imports nothing
  of the CLI and, of the top level, only the shared pure modules (``SHARED``). Every package of
  ``schedo.server`` must be placed in a layer.
- **Storage behind its protocols**: above storage (api, web, push, notify, scheduler,
  observability, services), code uses ``storage.contracts``, never the SQL implementation
  (``storage.sql``, ``storage.sql_*``), the schema, the engines (``storage.db``) or
  SQLAlchemy. ``STORAGE_ALLOWLIST`` names each import that still does (being fixed): the test
  passes with them and fails on any new one. Above services (``ABOVE_SERVICES``), code
  imports nothing of storage and never touches ``Services.store``: it calls services.
- **No cycles** between modules (type-checking-only imports excepted: they never run, and they
  are how a cycle is broken); ``CYCLE_ALLOWLIST`` names the imports allowed to close one.
- **Small modules**: no module under ``src`` passes ``MAX_LINES`` lines, except
  ``LARGE_MODULES`` (each to be split).

An allowlist entry that no longer matches anything is reported as a warning: delete it.
"""

from __future__ import annotations

import ast
import sys
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
ROOT = "schedo"

# -- the rules -------------------------------------------------------------------------------

LAYERS: list[tuple[str, ...]] = [
    ("app", "serve"),
    ("web", "notify", "observability"),
    ("api", "scheduler", "push"),
    ("services",),
    ("runtime", "config"),
    ("storage",),
    ("domain",),
]
"""The packages (and modules) of ``schedo.server``, top layer first."""

SAME_LAYER_ALLOWED: dict[tuple[str, str], str] = {
    ("serve", "app"): "`schedo serve` starts the app, and its preflight opens the store with "
    "the app's sealer (app.sealer_for)",
}
"""Imports between two packages of one layer that are allowed, and why. (notify -> push, the
notifier sending through push's client, needs no entry: push is a layer below notify.)"""

LAYER_ALLOWLIST: dict[tuple[str, str], str] = {
    # expected to be fixed (issue 17)
}
"""Imports that go up a layer today, and why: xfail-style, each to be removed."""

SHARED: dict[str, str] = {
    "schedo.limits": "the input limits, one definition for the SDK and the server",
    "schedo.webhooks": "the signing scheme: the server signs the bytes the SDK verifies",
}
"""Top-level modules the server may import (pure, no import of their own from schedo)."""

# modules the allowed ones import in turn (each pure as well)
SDK_USES_WITH_IT = {"schedo.server.domain.cron_fields"}
SDK_USES_SERVER: dict[tuple[str, str], str] = {
    ("schedo.sdk.app", "schedo.server.domain.cron"): "@app.job checks a schedule and time "
    "zone locally with the server's own rules; the cron module is pure (stdlib, cronsim)",
    ("schedo.sdk.app", "schedo.server.domain.hashed"): "@app.job checks H fields locally; "
    "the module is pure (stdlib, hashlib)",
}
"""The only imports of ``schedo.server`` the SDK may make."""

STORAGE_INTERNALS = (
    "schedo.server.storage.sql",
    "schedo.server.storage.schema",
    "schedo.server.storage.db",
)
STORAGE_INTERNAL_PREFIXES = ("schedo.server.storage.sql_",)
STORAGE_CLIENTS = ("api", "web", "push", "notify", "scheduler", "services", "observability")
ABOVE_SERVICES = ("api", "web", "push", "notify", "scheduler", "observability")
"""Packages that reach the database only through service functions: no import of storage at
all (its contracts included: the data types they need are re-exported by ``services``), and
no ``.store`` of the ``Services`` container."""

STORAGE_ALLOWLIST: dict[tuple[str, str], str] = {
    # none left (issue 17: the dashboard's SQL moved to storage/sql_dashboard.py, driver
    # errors became domain.errors.Unavailable in storage/db.py)
}
"""Imports of storage internals from above storage that are still there: xfail-style."""

CYCLE_ALLOWLIST: dict[tuple[str, str], str] = {}
"""Imports allowed to close a cycle, and why (each to be removed)."""

MAX_LINES = 400
LARGE_MODULES: dict[str, str] = {
    # modules over MAX_LINES today (issue 17: to split by concern); delete an entry when its
    # module is split
}


# -- reading the imports -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Import:
    importer: str
    imported: str  # a module of schedo, or the top-level name of another package
    file: Path
    line: int
    scope: str  # "module", "function" or "type-checking"

    @property
    def internal(self) -> bool:
        return is_in(self.imported, ROOT)

    def where(self) -> str:
        return f"{self.file.relative_to(SRC.parent)}:{self.line}"

    def show(self, why: str) -> str:
        return f"{self.where()}: {self.importer} -> {self.imported} ({self.scope}): {why}"


def is_in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@cache
def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted((SRC / ROOT).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _known(name: str) -> str:
    """The longest prefix of ``name`` that is a module of ours."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules():
            return candidate
        parts.pop()
    return name


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(tree: ast.AST) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import statement and its scope, in order."""

    def walk(node: ast.AST, scope: str) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child, scope
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                yield from walk(child, "function")
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                inner = scope if scope == "function" else "type-checking"
                for stmt in child.body:
                    yield from walk(ast.Module(body=[stmt], type_ignores=[]), inner)
                for stmt in child.orelse:
                    yield from walk(ast.Module(body=[stmt], type_ignores=[]), scope)
            else:
                yield from walk(child, scope)

    yield from walk(tree, "module")


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield _known(alias.name) if is_in(alias.name, ROOT) else alias.name.split(".")[0]
        return
    if node.level:
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module or ""
    if not is_in(base, ROOT):
        yield base.split(".")[0]
        return
    for alias in node.names:
        child = f"{base}.{alias.name}"
        yield child if child in modules() else _known(base)


@cache
def imports() -> tuple[Import, ...]:
    found: list[Import] = []
    for module, path in modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node, scope in _statements(tree):
            for target in _targets(module, path, node):
                if target != module:
                    found.append(Import(module, target, path, node.lineno, scope))
    return tuple(dict.fromkeys(found))


def _place(line: str) -> tuple[str, int]:
    path, _, rest = line.partition(":")
    number = rest.partition(":")[0]
    return path, int(number) if number.isdigit() else 0


def report(problems: Iterable[str], rule: str, what: str = "import(s) break it") -> None:
    lines = sorted(set(problems), key=lambda line: (_place(line), line))
    if lines:
        text = f"{rule}: {len(lines)} {what}\n" + "\n".join(lines)
        print(text)
        pytest.fail(text, pytrace=False)


def warn_unused(allowlist: Iterable[object], used: set[object], name: str) -> None:
    for entry in sorted(set(allowlist) - used, key=str):
        warnings.warn(f"{name}: {entry} matches nothing any more: delete it", stacklevel=2)


def in_sdk(module: str) -> bool:
    return (
        module == ROOT
        or is_in(module, "schedo.sdk")
        or module in ("schedo.webhooks", "schedo.limits")
    )


def server_part(module: str) -> str | None:
    """``api`` for ``schedo.server.api.deps``; None for ``schedo.server`` itself."""
    if not is_in(module, "schedo.server") or module == "schedo.server":
        return None
    return module.split(".")[2]


def layer_of(part: str) -> int | None:
    for rank, layer in enumerate(LAYERS):
        if part in layer:
            return rank
    return None


# -- the tests ---------------------------------------------------------------------------------


def test_the_import_reader_sees_every_kind_of_import() -> None:
    """A guard on the reader itself: lazy, type-checking and relative imports are found."""
    seen = {(i.importer, i.imported, i.scope) for i in imports()}
    assert any(i[:2] == ("schedo.sdk.app", "schedo.server.domain.cron") for i in seen)
    assert any(i.scope == "type-checking" for i in imports())
    assert any(i.scope == "function" and is_in(i.importer, "schedo.cli") for i in imports())
    assert ("schedo.server.api.deps", "schedo.limits", "module") in seen


def test_the_sdk_imports_neither_the_cli_nor_the_server() -> None:
    problems, used = [], set()
    for i in imports():
        if not in_sdk(i.importer):
            continue
        if is_in(i.imported, "schedo.cli"):
            problems.append(i.show("the SDK may not import the CLI"))
        elif is_in(i.imported, "schedo.server"):
            if (i.importer, i.imported) in SDK_USES_SERVER:
                used.add((i.importer, i.imported))
            else:
                problems.append(i.show("the SDK may not import the server"))
    # what the allowed imports load with them (their packages' __init__ run too) stays there
    allowed = {target for _, target in SDK_USES_SERVER} | SDK_USES_WITH_IT
    allowed |= {p for t in allowed for p in _packages_of(t)}
    for i in imports():
        if i.importer in allowed and i.internal and i.scope != "type-checking":
            if i.imported not in allowed and not in_sdk(i.imported):
                problems.append(
                    i.show(
                        "loaded by the SDK (through SDK_USES_SERVER): it must "
                        "stay pure and import nothing else of schedo"
                    )
                )
    warn_unused(SDK_USES_SERVER, used, "SDK_USES_SERVER")
    report(problems, "the SDK stands alone")


def _packages_of(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts))]


def test_limits_is_pure() -> None:
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    problems = [
        i.show("schedo.limits imports the standard library only")
        for i in imports()
        if i.importer == "schedo.limits" and i.imported not in stdlib
    ]
    report(problems, "schedo.limits is pure")


def test_the_cli_imports_the_server_only_inside_functions() -> None:
    problems = [
        i.show(
            "a module-level import of the server: `schedo worker` must run on an SDK-only "
            "install, so import it inside the command that needs it"
        )
        for i in imports()
        if is_in(i.importer, "schedo.cli")
        and is_in(i.imported, "schedo.server")
        and i.scope == "module"
    ]
    report(problems, "the CLI loads the server lazily")


def _layer_problem(i: Import) -> tuple[str | None, tuple[str, str] | None]:
    """Why ``i`` (made by a server module) breaks the layers, and the allowlist entry it used."""
    if (i.importer, i.imported) in LAYER_ALLOWLIST:
        return None, (i.importer, i.imported)
    if is_in(i.imported, "schedo.cli"):
        return "the server may not import the CLI", None
    if i.internal and not is_in(i.imported, "schedo.server"):
        return (
            None
            if i.imported in SHARED
            else "the server may import only the shared top-level modules (SHARED)"
        ), None
    src, dst = server_part(i.importer), server_part(i.imported)
    if src is None or dst is None or src == dst:
        return None, None
    high, low = layer_of(src), layer_of(dst)
    if high is None or low is None:
        return None, None  # reported by test_every_server_package_is_in_a_layer
    if low > high:
        return None, None
    if low == high:
        if (src, dst) in SAME_LAYER_ALLOWED:
            return None, (src, dst)
        return f"{src} and {dst} are one layer ({' | '.join(LAYERS[high])}): not allowed", None
    return f"{src} ({' | '.join(LAYERS[high])}) may not import the higher layer {dst}", None


def test_server_layers_run_one_way() -> None:
    problems, used = [], set()
    for i in imports():
        if not is_in(i.importer, "schedo.server"):
            continue
        why, pair = _layer_problem(i)
        if why:
            problems.append(i.show(why))
        if pair:
            used.add(pair)
    warn_unused(SAME_LAYER_ALLOWED, used & set(SAME_LAYER_ALLOWED), "SAME_LAYER_ALLOWED")
    warn_unused(LAYER_ALLOWLIST, used & set(LAYER_ALLOWLIST), "LAYER_ALLOWLIST")
    report(problems, "the server's layers run one way")


def test_every_server_package_is_in_a_layer() -> None:
    parts = {p for m in modules() if (p := server_part(m)) is not None}
    missing = sorted(p for p in parts if layer_of(p) is None)
    assert not missing, f"schedo.server.{missing}: place them in LAYERS (and in the docs)"
    declared = {p for layer in LAYERS for p in layer}
    assert not declared - parts, f"LAYERS names what does not exist: {declared - parts}"


def _storage_internal(module: str) -> bool:
    return (
        module == "sqlalchemy"
        or any(is_in(module, m) for m in STORAGE_INTERNALS)
        or (module.startswith(STORAGE_INTERNAL_PREFIXES))
    )


def test_storage_is_used_through_its_contracts() -> None:
    problems, used = [], set()
    for i in imports():
        if server_part(i.importer) not in STORAGE_CLIENTS or not _storage_internal(i.imported):
            continue
        if (i.importer, i.imported) in STORAGE_ALLOWLIST:
            used.add((i.importer, i.imported))
        else:
            problems.append(
                i.show(
                    "above storage, use storage.contracts (the protocols), "
                    "not the SQL implementation, the schema, the engines or "
                    "SQLAlchemy"
                )
            )
    warn_unused(STORAGE_ALLOWLIST, used, "STORAGE_ALLOWLIST")
    report(problems, "storage behind its protocols")


def test_above_services_storage_is_out_of_reach() -> None:
    problems = [
        i.show("above services, call a service function (the data types are re-exported "
               "by services), never storage")
        for i in imports()
        if server_part(i.importer) in ABOVE_SERVICES
        and is_in(i.imported, "schedo.server.storage")
    ]
    for module, path in modules().items():
        if server_part(module) not in ABOVE_SERVICES:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        problems += [
            f"{path.relative_to(SRC.parent)}:{node.lineno}: .store: above services, the raw "
            "store is out of reach; add a service function (services/ops for operations)"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr == "store"
        ]
    report(problems, "storage out of reach above services", "use(s) of storage")


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles() -> None:
    edges: dict[str, set[str]] = {m: set() for m in modules()}
    used = set()
    for i in imports():
        if not i.internal or i.scope == "type-checking":
            continue
        if (i.importer, i.imported) in CYCLE_ALLOWLIST:
            used.add((i.importer, i.imported))
            continue
        edges[i.importer].add(i.imported)
    problems = []
    for component in _cycles(edges):
        members = set(component)
        name = " <-> ".join(component)
        problems += [
            i.show(f"closes the cycle {name}")
            for i in imports()
            if i.importer in members
            and i.imported in members
            and i.scope != "type-checking"
            and (i.importer, i.imported) not in CYCLE_ALLOWLIST
        ]
    warn_unused(CYCLE_ALLOWLIST, used, "CYCLE_ALLOWLIST")
    report(problems, "no import cycles")


def test_modules_stay_small() -> None:
    problems, used = [], set()
    for path in sorted(SRC.rglob("*.py")):
        name = path.relative_to(SRC).as_posix()
        count = len(path.read_text(encoding="utf-8").splitlines())
        if count <= MAX_LINES:
            continue
        if name in LARGE_MODULES:
            used.add(name)
        else:
            problems.append(
                f"src/{name}:{count}: {count} lines, at most {MAX_LINES}: split it by concern"
            )
    warn_unused(LARGE_MODULES, used, "LARGE_MODULES")
    report(problems, "small modules", "module(s) too long")


# the third-party packages domain may use: cronsim (cron fields) and httpx's URL parser (the
# address policy judges a URL with the parser the push client connects with); nothing with I/O
DOMAIN_THIRD_PARTY = {"cronsim": "schedo.server.domain.cron", "httpx": "schedo.server.domain."
                      "addresses"}


def test_the_domain_is_pure() -> None:
    """domain imports only the standard library, its own modules, and the two parsers above
    (each from its one module)."""
    problems = []
    for i in imports():
        if not is_in(i.importer, "schedo.server.domain") or i.internal:
            continue
        top = i.imported.split(".")[0]
        if top in sys.stdlib_module_names or top == "__future__":
            continue
        owner = DOMAIN_THIRD_PARTY.get(top)
        if owner is None or not i.importer.startswith(owner):
            problems.append(i.show(f"domain is pure: {top} is not one of its parsers"))
    report(problems, "the domain is pure")


# -- dialect branches ----------------------------------------------------------------------------

DIALECT_HOME = "schedo.server.storage.db"
DIALECT_ALLOWED: dict[str, str] = {
    "schedo.server.storage.migrations": "Alembic revisions are history: each runs once, per "
    "dialect (batch mode on SQLite), and is never edited",
}
"""Modules (or packages) outside ``storage/db.py`` that may branch on the database."""

DIALECT_NAMES = {"sqlite", "postgresql", "postgres"}
DIALECT_ATTRIBUTES = {"is_sqlite", "get_backend_name", "dialect", "driver"}


def _dialect_checks(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in DIALECT_ATTRIBUTES:
            yield node.lineno, f".{node.attr}"
        elif isinstance(node, ast.Compare):
            for side in [node.left, *node.comparators]:
                if isinstance(side, ast.Constant) and side.value in DIALECT_NAMES:
                    yield node.lineno, f"a comparison with {side.value!r}"
                elif isinstance(side, ast.Tuple | ast.List | ast.Set) and any(
                    isinstance(e, ast.Constant) and e.value in DIALECT_NAMES for e in side.elts
                ):
                    yield node.lineno, "a comparison with a dialect's name"


def test_dialect_branches_live_in_db() -> None:
    """Every decision that depends on the database (SQLite or PostgreSQL) is a function of
    ``storage/db.py``: elsewhere in the server, no ``is_sqlite``, no backend name read from a
    URL or a connection's dialect, no comparison with a dialect's name."""
    problems, used = [], set()
    for module, path in modules().items():
        if not is_in(module, "schedo.server") or module == DIALECT_HOME:
            continue
        allowed = next((a for a in DIALECT_ALLOWED if is_in(module, a)), None)
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for line, what in _dialect_checks(tree):
            if allowed is not None:
                used.add(allowed)
                continue
            problems.append(
                f"{path.relative_to(SRC.parent)}:{line}: {what}: a dialect branch outside "
                "storage/db.py; put the decision behind a function there"
            )
    warn_unused(DIALECT_ALLOWED, used, "DIALECT_ALLOWED")
    report(problems, "dialect branches live in storage/db.py", "branch(es) outside it")
