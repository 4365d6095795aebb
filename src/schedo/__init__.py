"""Schedo Python SDK: ``Schedo`` (workers), ``Client`` (management API), ``webhooks``.

Importing this package never imports the server's dependencies (only httpx is needed).
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
