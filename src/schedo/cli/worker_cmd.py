"""``schedo worker module:app``: run the workers of a Python app.

``module:app`` imports ``module`` (the current folder is on ``sys.path``) and takes its
attribute ``app``; ``path/to/file.py:app`` loads that file (its folder goes on ``sys.path``
so that it can import its neighbours). Without ``:attr`` the attribute ``app`` is used. A
missing module or attribute, or an attribute that is not a ``schedo.Schedo``, is one line on
stderr and exit status 2. Only the SDK is imported: this runs on an install without the
server extra.

``--url/--key/--env`` win over the app's own ``Schedo(base_url=, api_key=,
environment_id=)``, which win over ``SCHEDO_BASE_URL`` / ``SCHEDO_API_KEY`` /
``SCHEDO_ENVIRONMENT_ID`` (or ``SCHEDO_ENVIRONMENT``, as for the other commands). A key the
server refuses (401/403) is one line, ``the server refused the API key: ...``, and exit 4
(docs/cli.md has the whole table).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated

import typer

from .support import DEFAULT_URL, EXIT_API, EXIT_AUTH, EXIT_USAGE

if TYPE_CHECKING:
    from schedo.sdk.app import Schedo


class TargetError(Exception):
    """The ``module:app`` target cannot be loaded (one clear line)."""


def _split(target: str) -> tuple[str, str]:
    text = target.strip()
    if not text:
        raise TargetError("target: give module:app or path/to/file.py:app")
    # a Windows drive ("C:\\x.py") has its colon at index 1; the attribute comes last
    module, sep, attr = text.rpartition(":")
    if not sep or (len(module) == 1 and module.isalpha()):
        return text, "app"
    if not module:
        raise TargetError(f"target: {target!r} names no module before ':'")
    if not attr.isidentifier():
        raise TargetError(f"target: {attr!r} is not a Python attribute name")
    return module, attr


def _is_path(module: str) -> bool:
    return module.endswith(".py") or "/" in module or os.sep in module


def _load_file(path_text: str) -> ModuleType:
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise TargetError(f"cannot load {path_text}: no such file")
    path = path.resolve()
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = path.stem if path.suffix == ".py" else path.name
    if not name.isidentifier():
        name = "schedo_worker_app"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise TargetError(f"cannot load {path_text}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        # only "this module is missing" is a target error; a missing import inside it
        # is the app's own bug and keeps its traceback
        missing = exc.name or ""
        if missing and (name == missing or name.startswith(missing + ".")):
            raise TargetError(
                f"cannot import module {name!r}: no module named "
                f"{missing!r} (run from the folder that contains it)"
            ) from None
        raise


def load_app(target: str) -> Schedo:
    """The ``Schedo`` instance named by ``target`` (raises ``TargetError``)."""
    from schedo.sdk.app import Schedo

    module_name, attr = _split(target)
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    module = _load_file(module_name) if _is_path(module_name) else _import(module_name)
    try:
        app = getattr(module, attr)
    except AttributeError:
        raise TargetError(f"module {module_name!r} has no attribute {attr!r}") from None
    if not isinstance(app, Schedo):
        raise TargetError(
            f"{module_name}:{attr} is a {type(app).__name__}, not a schedo.Schedo app"
        )
    return app


def _logging(level: str) -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=level.upper(),
            stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"schedo worker: {message}", err=True)
    return typer.Exit(code)


def _connection(app: Schedo, url: str | None, key: str | None, env: int | None) -> None:
    """Apply ``--url/--key/--env`` to ``app``: the command line wins over the app's own
    ``Schedo(base_url=..., api_key=..., environment_id=...)``, which wins over the
    environment variables (read by the SDK when the worker starts). Raises ``typer.Exit``
    (2) when no key is given anywhere or the URL is not http(s)."""
    if url is not None:
        if not url.strip().startswith(("http://", "https://")):
            raise _fail(f"--url: {url!r} is not an http(s) URL", EXIT_USAGE)
        app.base_url = url
    if key is not None:
        app.api_key = key
    if env is not None:
        app.environment_id = env
    elif app.environment_id is None and not os.environ.get("SCHEDO_ENVIRONMENT_ID"):
        named = os.environ.get("SCHEDO_ENVIRONMENT", "").strip()  # the CLI's other name
        if named:
            if not (named.isascii() and named.isdigit()) or int(named) < 1:
                raise _fail(f"SCHEDO_ENVIRONMENT: {named!r} is not an environment id", EXIT_USAGE)
            app.environment_id = int(named)
    if not (app.api_key or os.environ.get("SCHEDO_API_KEY")):
        raise _fail(
            "no API key: pass --key, set SCHEDO_API_KEY or give Schedo(api_key=...)", EXIT_USAGE
        )


def worker(
    target: Annotated[
        str,
        typer.Argument(
            help="The app to run: module:app or path/to/file.py:app (default attribute: app)."
        ),
    ],
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-c",
            min=1,
            help="Handlers running at once (default: the app's, 10 unless it says otherwise).",
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="Base URL of the Schedo server (default: the app's base_url, else "
            f"SCHEDO_BASE_URL, else {DEFAULT_URL}).",
            show_default=False,
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help="API key, sent as x-api-key (default: the app's api_key, else SCHEDO_API_KEY).",
            show_default=False,
        ),
    ] = None,
    env: Annotated[
        int | None,
        typer.Option(
            "--env",
            min=1,
            help="Environment id for an admin key, sent as X-API-ENVIRONMENT (default: the "
            "app's environment_id, else SCHEDO_ENVIRONMENT_ID or SCHEDO_ENVIRONMENT).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the jobs of a Schedo app: define them, then pull and run their executions until
    SIGTERM/SIGINT (graceful: running handlers finish and are reported; a second signal
    gives up on them at once).

    Exit status: 0 after a clean shutdown; 1 when the server refused a definition or some
    results could not be reported; 2 a target that cannot be loaded, a bad definition, no
    API key, a bad option; 4 the key was refused (401/403). An unreachable server never
    ends the worker: it retries.
    """
    from schedo.sdk.errors import (
        ApiError,
        ConfigurationError,
        DefinitionError,
        Forbidden,
        SchedoError,
        Unauthorized,
    )

    _logging(os.environ.get("SCHEDO_LOG_LEVEL", "INFO"))
    try:
        app = load_app(target)
    except TargetError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None
    except SchedoError as exc:  # e.g. a definition refused by the decorator
        raise _fail(str(exc), EXIT_USAGE) from None
    except Exception:
        typer.echo(f"schedo worker: importing {target} failed:", err=True)
        traceback.print_exc()
        raise typer.Exit(EXIT_USAGE) from None
    _connection(app, url, key, env)
    try:
        code = app.run(concurrency=concurrency)
    except (Unauthorized, Forbidden) as exc:
        raise _fail(
            f"the server refused the API key: {exc.message} (HTTP {exc.status})", EXIT_AUTH
        ) from None
    except (ConfigurationError, DefinitionError) as exc:  # a bad URL or key format, no jobs
        raise _fail(str(exc), EXIT_USAGE) from None
    except SchedoError as exc:  # a definition refused by the server, ...
        raise _fail(exc.message if isinstance(exc, ApiError) else str(exc), EXIT_API) from None
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add the ``worker`` command to the ``schedo`` Typer app."""
    app.command("worker")(worker)
