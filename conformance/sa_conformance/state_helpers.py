"""Small helpers the state/transaction claim tests share."""

from __future__ import annotations

from sqlalchemy import inspect

STATES = ("transient", "pending", "persistent", "deleted", "detached")


def state_flags(obj) -> set[str]:
    """The inspect() state flags that are True for ``obj``."""
    insp = inspect(obj)
    return {name for name in STATES if getattr(insp, name)}


def checked_out(backend) -> int:
    """Pool connections currently checked out of the backend's shared engine."""
    return backend.checked_out()
