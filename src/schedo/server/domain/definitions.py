"""What a redefinition changes: the rule that an identical ``POST /jobs/definition`` (every
SDK worker's start) writes nothing, and the strict sameness the audit log's diff uses too.

Pure. "The same" is stricter than Python's ``==``: the same type (``True`` is not ``1``), and
for JSON values (``metadata``, ``target``, ``after``, ``channels``) the same JSON text, so
``{"a": 1}`` is not ``{"a": true}`` and a new key order counts as a change (docs/api.md,
Jobs). A redefinition the storage writes therefore always records what it changed.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from .records import Job, JobSpec

# the JobSpec fields a redefinition compares with the stored job; ``name`` finds the job and
# ``ping_uuid`` is kept once set (only a job without one takes the spec's)
_COMPARED = tuple(f.name for f in fields(JobSpec) if f.name not in ("name", "ping_uuid"))


def same(a: Any, b: Any) -> bool:
    """``a`` and ``b`` are the same value of the same type; lists, tuples and dicts by their
    JSON text (so key order and ``1`` against ``true`` count)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (dict, list, tuple)):
        return json.dumps(a) == json.dumps(b)
    return bool(a == b)


def redefines_nothing(job: Job, spec: JobSpec) -> bool:
    """Whether defining ``spec`` over the stored ``job`` would change nothing: every field the
    same (``same``), and no ping secret to store (``spec.ping_uuid`` on a job without one)."""
    if spec.ping_uuid is not None and job.ping_uuid is None:
        return False
    return all(same(getattr(job, name), getattr(spec, name)) for name in _COMPARED)
