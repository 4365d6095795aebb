"""What a redefinition changes: the rule that an identical ``POST /jobs/definition`` (every
SDK worker's start) writes nothing, and the strict sameness the audit log's diff uses too.

Pure. "The same" is stricter than Python's ``==``: the same type (``True`` is not ``1``), and
for JSON values (``metadata``, ``target``, ``after``, ``channels``) what their JSON text would
tell apart, so ``{"a": 1}`` is not ``{"a": true}`` and a new key order counts as a change
(docs/api.md, Jobs). A redefinition the storage writes therefore always records what it
changed.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from .records import Job, JobSpec

# the JobSpec fields a redefinition compares with the stored job; ``name`` finds the job and
# ``ping_uuid`` is kept once set (only a job without one takes the spec's)
_COMPARED = tuple(f.name for f in fields(JobSpec) if f.name not in ("name", "ping_uuid"))


def same(a: Any, b: Any) -> bool:
    """``a`` and ``b`` are the same value of the same type; lists, tuples and dicts as their
    JSON text would compare them: key order and ``1`` against ``true`` or ``1.0``
    count, a list and a tuple of the same items do not (the JSON text was the rule's first
    form; walking the values gives the same answers without encoding both, tests/unit/
    test_definitions.py)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (dict, list, tuple)):
        return _json_same(a, b)
    return bool(a == b)


def _json_same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    t = type(a)
    if t is dict:
        if type(b) is not dict or len(a) != len(b):
            return False
        return all(ka == kb and type(ka) is type(kb) and _json_same(va, vb)
                   for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True))
    if t is list or t is tuple:
        if (type(b) is not list and type(b) is not tuple) or len(a) != len(b):
            return False
        return all(_json_same(x, y) for x, y in zip(a, b, strict=True))
    if t is not type(b):
        return False
    if t is float:  # by its JSON text: -0.0 is not 0.0, and NaN is NaN
        return repr(a) == repr(b)
    return bool(a == b)


def redefines_nothing(job: Job, spec: JobSpec) -> bool:
    """Whether defining ``spec`` over the stored ``job`` would change nothing: every field the
    same (``same``), and no ping secret to store (``spec.ping_uuid`` on a job without one)."""
    if spec.ping_uuid is not None and job.ping_uuid is None:
        return False
    return all(same(getattr(job, name), getattr(spec, name)) for name in _COMPARED)
