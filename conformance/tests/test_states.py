"""Object states, as the seed tutorial walks them."""

import pytest
from sqlalchemy import inspect

from sa_conformance.models import User


def flags(obj):
    state = inspect(obj)
    return {
        name
        for name in ("transient", "pending", "persistent", "deleted", "detached")
        if getattr(state, name)
    }


@pytest.mark.claim("states.seed-walk-transient-to-detached")
def test_seed_walk_transient_pending_persistent_detached(session_factory, db):
    """transient -> add -> pending -> commit -> persistent -> close -> detached."""
    david = User(name="David")
    assert flags(david) == {"transient"}
    session = session_factory()
    session.add(david)
    assert flags(david) == {"pending"}
    session.commit()
    assert flags(david) == {"persistent"}
    session.close()
    assert flags(david) == {"detached"}
    assert db.rows("users", "name") == [("David",)]
