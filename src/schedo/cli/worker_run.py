"""The ``schedo worker`` command's work, without typer, rich or pydantic: loading the
``module:app`` target, applying ``--url/--key/--env`` and running the app. ``worker_cmd.py``
is the Typer command (``--help``, option errors) and calls ``run_worker``; ``fastpath.py``
calls it directly for a plain ``schedo worker ...`` so that a worker process does not load
the whole command line (issue 18: worker RSS).
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
from typing import TYPE_CHECKING

from .exit_codes import EXIT_API, EXIT_AUTH, EXIT_USAGE

if TYPE_CHECKING:
    from schedo.sdk.app import Schedo


class WorkerExit(Exception):
    """End the command with ``code`` (its message already written to stderr)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


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


def _fail(message: str, code: int) -> WorkerExit:
    print(f"schedo worker: {message}", file=sys.stderr, flush=True)
    return WorkerExit(code)


def _connection(app: Schedo, url: str | None, key: str | None, env: int | None) -> None:
    """Apply ``--url/--key/--env`` to ``app``: the command line wins over the app's own
    ``Schedo(base_url=..., api_key=..., environment_id=...)``, which wins over the
    environment variables (read by the SDK when the worker starts). Raises ``WorkerExit``
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


def run_worker(
    target: str, concurrency: int | None, url: str | None, key: str | None, env: int | None
) -> int:
    """Run the app named by ``target`` until it stops; its exit status (raises ``WorkerExit``
    for a usage, definition or key error, after writing its one line to stderr)."""
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
        print(f"schedo worker: importing {target} failed:", file=sys.stderr, flush=True)
        traceback.print_exc()
        raise WorkerExit(EXIT_USAGE) from None
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
    return code
