"""Sealing of secrets the server must keep in a usable form (webhook signature keys).

API keys are stored as digests, but a signature key has to be read back to sign each push
delivery and notification webhook, so it is *sealed*: AES-256-GCM under a 32-byte key kept
outside the database. A stolen database file (or a copy sent to support, or a backup) then
holds no usable signature key.

Stored form: ``v1:`` + base64(12-byte random nonce ‖ ciphertext ‖ 16-byte tag): 99
characters for a 43-character key. The associated data names what the value belongs to
(``schedo/env-sig/<environment id>``, ``schedo/env-sig-previous/<environment id>``,
``schedo/key-check``), so a sealed value copied into
another row does not open there. A value without the
``v1:`` prefix is plaintext from before sealing existed: it is read as is and re-sealed at start.

Where the key comes from (``load_sealer``), first match wins:

1. ``SCHEDO_SECRET_KEY``: base64 of 32 random bytes (``openssl rand -base64 32``);
2. ``SCHEDO_SECRET_KEY_FILE``: a file holding that base64 text; created (mode 0600) with a
   new random key if it does not exist — but only for a database that holds nothing sealed
   yet (see "A missing key file" below);
3. SQLite file databases: ``<database file>.key`` beside the database, same rules as 2;
4. an in-memory SQLite database: a random key for the life of the process (the data dies
   with it too).

PostgreSQL has no default: several server processes share the database, so each must be
given the same key (1 or 2), and start fails with a clear message otherwise.

A check value (a sealed constant in ``server_meta``) tells at start whether the key is the one
the database was sealed with; a wrong or lost key stops the server with a clear message
instead of signing with garbage (see ``SqlStore.prepare_sealing``).

A missing key file: a new key is made at once only when the database surely holds no sealed
value (no SQLite file yet, or one without a check value or a sealed signature key). Otherwise
(a backup restored without its ``.key`` file, a lost file; on PostgreSQL, where we cannot look
before connecting) the sealer has no key yet: opening a sealed value raises SealError naming the
missing file, SCHEDO_SECRET_KEY(_FILE) and ``schedo reset-signature-keys`` — so ``schedo serve``
refuses to start and leaves no wrong key behind — and the file is made (or, if another process
made it meanwhile, read) only when something is first sealed: the check value of a fresh
PostgreSQL database, or the new keys of ``schedo reset-signature-keys``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import sqlite3
import stat
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .db import MEMORY, sqlite_database

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "v1:"
NONCE = 12
KEY_BYTES = 32
CHECK_PLAIN = "schedo secret key check"
GENERATE_HINT = "create one with: openssl rand -base64 32"

log = logging.getLogger("schedo.sealing")


class SealError(Exception):
    """A key that cannot be loaded or does not open the stored values (one clear line)."""


@dataclass(frozen=True, slots=True)
class KeySource:
    """Where the sealing key came from, for messages."""

    kind: str  # "env" | "file" | "memory"
    path: Path | None = None

    def describe(self) -> str:
        if self.kind == "env":
            return "SCHEDO_SECRET_KEY"
        if self.kind == "file":
            return f"key file {self.path}"
        return "a key for this process only (in-memory database)"


class Sealer:
    def __init__(self, key: bytes, source: KeySource = KeySource("memory")) -> None:
        if len(key) != KEY_BYTES:
            raise SealError(f"the secret key must be {KEY_BYTES} bytes, not {len(key)}")
        self._key = key
        self._cipher: AESGCM | None = None
        self.source = source
        self._missing: Path | None = None  # a key file to read or make once it is needed

    @property
    def _aead(self) -> AESGCM:
        # cryptography (its Rust library and libcrypto: ~7 MB) is loaded at the first seal or
        # open, not at import: `schedo serve` checks the key in its start-up child process
        # (server/serve.py), so a server that signs nothing never holds it (issue 18)
        if self._cipher is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            self._cipher = AESGCM(self._key)
        return self._cipher

    @classmethod
    def random(cls) -> Sealer:
        return cls(os.urandom(KEY_BYTES))  # what AESGCM.generate_key does

    @classmethod
    def awaiting(cls, path: Path) -> Sealer:
        """A sealer whose key file ``path`` does not exist (yet) for a database that may hold
        sealed values: it opens nothing (SealError naming the file) and makes the file only
        when it first seals (module docstring, "A missing key file")."""
        sealer = cls(bytes(KEY_BYTES), KeySource("file", path))  # placeholder, never used
        sealer._missing = path
        return sealer

    def _adopt(self, create: bool) -> bool:
        """For an awaiting sealer: take the key file's key (making the file if ``create``);
        False if it still does not exist."""
        path = self._missing
        if path is None:
            return True
        if not create and not path.exists():
            return False
        self._key, self._cipher = _read_or_create(path), None
        self._missing = None
        return True

    def _require_key(self) -> None:
        path = self._missing
        if path is not None and not self._adopt(create=False):
            raise SealError(missing_key_message(path))

    def seal(self, plain: str, context: str) -> str:
        """``context``: what the value belongs to (``env_context``, ``CHECK_CONTEXT``)."""
        self._adopt(create=True)
        nonce = os.urandom(NONCE)
        sealed = nonce + self._aead.encrypt(nonce, plain.encode(), _aad(context))
        return PREFIX + base64.b64encode(sealed).decode()

    def unseal(self, stored: str, context: str) -> str:
        """The plaintext of a stored value (legacy plaintext is returned as is)."""
        if not is_sealed(stored):
            return stored
        self._require_key()
        aead = self._aead
        from cryptography.exceptions import InvalidTag  # loaded with the cipher above

        try:
            raw = base64.b64decode(stored[len(PREFIX):], validate=True)
            return aead.decrypt(raw[:NONCE], raw[NONCE:], _aad(context)).decode()
        except (InvalidTag, binascii.Error, ValueError, UnicodeDecodeError):
            raise SealError(
                "a sealed secret in the database does not open with this server's secret key "
                f"({self.source.describe()})"
            ) from None

    def try_unseal(self, stored: str, context: str) -> str | None:
        """``unseal``, or None for a value that does not open. Raises SealError when there
        is no key at all (its file is missing): not a value that does not open, but a
        server that must not start."""
        if is_sealed(stored):
            self._require_key()
        try:
            return self.unseal(stored, context)
        except SealError:
            return None

    def signing_key(self, stored: str, env_id: int) -> str:
        """Environment ``env_id``'s signature key; "" if it does not open (sealed by a process
        with another secret key, or copied from another row): shown empty, never signed with
        (push and notification webhooks fail saying why), never a 500, and one environment's
        bad value holds up no other."""
        try:
            key = self.try_unseal(stored, env_context(env_id))
        except SealError:  # no key at all: start refuses that, but never a 500 here
            key = None
        if key is None:
            log.error("sealing.unseal_failed environment=%s", env_id)
            return ""
        return key


    def previous_key(self, stored: str | None, env_id: int) -> str:
        """Environment ``env_id``'s previous signature key (kept valid for a while after a
        rotation); "" when there is none or it does not open (logged): the new key alone
        then signs."""
        if not stored:
            return ""
        try:
            key = self.try_unseal(stored, previous_context(env_id))
        except SealError:
            key = None
        if key is None:
            log.error("sealing.unseal_failed environment=%s previous=1", env_id)
            return ""
        return key


CHECK_CONTEXT = "key-check"


def env_context(env_id: int) -> str:
    """The context of environment ``env_id``'s signature key."""
    return f"env-sig/{env_id}"


def previous_context(env_id: int) -> str:
    """The context of environment ``env_id``'s previous signature key (during a rotation's
    overlap): another context than the current key's, so neither opens in the other column."""
    return f"env-sig-previous/{env_id}"


def _aad(context: str) -> bytes:
    return b"schedo/" + context.encode()


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


def parse_key(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise SealError(f"{where}: not the base64 of {KEY_BYTES} bytes; {GENERATE_HINT}")
    return key


def _create(path: Path) -> None:
    """Create the key file whole or not at all: written and flushed under a private temporary
    name, then linked to ``path`` (which fails if another process made it first: its key
    wins), then the folder flushed, so a crash never leaves an empty or missing key behind
    sealed data."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(base64.b64encode(os.urandom(KEY_BYTES)).decode() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return  # another process won the race: its key is read by the caller
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        log.info("sealing.key_created path=%s", path)
    except OSError as exc:
        raise SealError(f"secret key file {path}: cannot create it: {exc.strerror}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _read_or_create(path: Path) -> bytes:
    """Read the key file, or create it (0600; processes starting together agree on one)."""
    if not path.exists():
        if not path.parent.is_dir():
            raise SealError(f"secret key file {path}: folder {path.parent} does not exist")
        _create(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SealError(f"secret key file {path}: cannot read it: {exc.strerror}") from None
    with contextlib.suppress(OSError):
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("sealing.key_file_readable_by_others path=%s", path)
    return parse_key(text, f"secret key file {path}")


def missing_key_message(path: Path) -> str:
    return (
        f"secret key file {path} does not exist, and this database holds webhook signature "
        "keys sealed with the key that was in it, so no new key was made (it could not open "
        f"them): restore that file (a backup made by 'schedo backup' has it beside the copy as "
        f"<backup>.key; copy it to {path}), or give the server that key with "
        "SCHEDO_SECRET_KEY or SCHEDO_SECRET_KEY_FILE; if it is lost, run "
        "'schedo reset-signature-keys' (every environment gets a new signature key; "
        "docs/hardening.md, Secrets at rest)"
    )


def _may_hold_sealed_values(database_url: str) -> bool:
    """False only if the database surely holds no sealed value: a SQLite file that does not
    exist, or one without a key check value and without a sealed signature key (a database
    from before sealing, or a fresh one). True when it holds one or we cannot tell
    (PostgreSQL before connecting, an unreadable file)."""
    database = sqlite_database(database_url)
    if database is None:
        return True
    if database == MEMORY:
        return False
    path = Path(database)
    if not path.exists():
        return False
    uri = "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=30)
    except sqlite3.Error:
        return True
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "server_meta" in tables and conn.execute(
            "SELECT 1 FROM server_meta WHERE key = 'secret_key_check'"  # sql.KEY_CHECK
        ).fetchone():
            return True
        return "environments" in tables and conn.execute(
            "SELECT 1 FROM environments WHERE webhook_signature_key LIKE ? LIMIT 1",
            (PREFIX + "%",),
        ).fetchone() is not None
    except sqlite3.Error:
        return True
    finally:
        conn.close()


def load_sealer(database_url: str, secret_key: str | None, key_file: str | None) -> Sealer:
    """The sealer for this server (see the module docstring for the order). Raises SealError."""
    if secret_key:
        return Sealer(parse_key(secret_key, "SCHEDO_SECRET_KEY"), KeySource("env"))
    database = sqlite_database(database_url)
    if not key_file and database is not None:
        if database == MEMORY:
            return Sealer.random()
        key_file = database + ".key"
    if key_file:
        path = Path(key_file)
        if not path.exists() and _may_hold_sealed_values(database_url):
            if not path.parent.is_dir():
                raise SealError(f"secret key file {path}: folder {path.parent} does not exist")
            return Sealer.awaiting(path)
        return Sealer(_read_or_create(path), KeySource("file", path))
    raise SealError(
        "SCHEDO_SECRET_KEY or SCHEDO_SECRET_KEY_FILE is required with PostgreSQL: webhook "
        "signature keys are sealed with it, and every server process must use the same key; "
        + GENERATE_HINT
    )
