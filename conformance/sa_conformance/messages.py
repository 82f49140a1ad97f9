"""Exact exception messages the documentation and seeds show, with their
variable parts filled in from the objects a test holds, so a test checks that
each part names the right thing (which object, which Session owns it, which
Session was called).

SQLAlchemy renders an object as ``<ClassName at 0x...>`` with ``id(obj)``
(``sqlalchemy.orm.util.state_str``) and a Session by its ``hash_key``.
"""

from __future__ import annotations

import re


def obj_str(obj: object) -> str:
    """How SQLAlchemy names a mapped object in messages."""
    return f"<{type(obj).__name__} at {hex(id(obj))}>"


def exact(message: str) -> str:
    """A ``pytest.raises(match=...)`` pattern matching ``message`` exactly."""
    return "^" + re.escape(message) + "$"


def starts(message: str) -> str:
    """A pattern matching a message that begins with ``message``."""
    return "^" + re.escape(message)


def already_attached(obj: object, owner, caller) -> str:
    """Session.add() of an object another Session holds."""
    return exact(
        f"Object '{obj_str(obj)}' is already attached to session '{owner.hash_key}' (this is '{caller.hash_key}')"
    )


def not_persisted(obj: object) -> str:
    """Session.delete() of a transient object."""
    return exact(f"Instance '{obj_str(obj)}' is not persisted")


def row_deleted(obj: object) -> str:
    """Loading an expired object whose row is gone (ObjectDeletedError)."""
    return exact(f"Instance '{obj_str(obj)}' has been deleted, or its row is otherwise not present.")


def not_bound_refresh(obj: object) -> str:
    """Loading an expired attribute of a detached object (DetachedInstanceError)."""
    return starts(
        f"Instance {obj_str(obj)} is not bound to a Session; attribute refresh operation cannot proceed"
    )
