"""The seed tutorial's own statements (seed 001), checked as written or as
corrected for the running SQLAlchemy."""

import pytest
import sqlalchemy.exc
import sqlalchemy.orm.exc
from sqlalchemy import inspect

from sa_conformance.orm_models import User
from sa_conformance.state_helpers import state_flags as flags


@pytest.mark.claim("states.pk-none-until-flush")
def test_pk_none_after_add_assigned_after_commit(session_factory, db):
    """mary.id is None before and after add(); assigned after commit()."""
    with session_factory() as s:
        mary = User(name="Mary")
        assert mary.id is None
        s.add(mary)
        assert mary.id is None
        s.commit()
        assert isinstance(mary.id, int)
        pk = mary.id
    assert db.rows("users", "id", "name") == [(pk, "Mary")]


@pytest.mark.claim("states.update-attribute-commit")
def test_update_via_attribute_and_commit(session_factory, db):
    """mary.name = 'Mariana'; commit -> found by the new name, not by the old."""
    with session_factory() as s:
        s.add(User(name="Mary"))
        s.commit()
        mary = s.query(User).filter(User.name == "Mary").one()
        mary.name = "Mariana"
        s.commit()
        assert mary.name == "Mariana"
        assert s.query(User).filter(User.name == "Mariana").one() is mary
        with pytest.raises(sqlalchemy.exc.NoResultFound, match="No row was found when one was required"):
            s.query(User).filter(User.name == "Mary").one()
    assert db.rows("users", "name") == [("Mariana",)]


@pytest.mark.claim("states.detached-after-delete-commit")
def test_delete_commit_detaches_and_keeps_pk(session_factory, db):
    """After delete + commit: detached, _sa_instance_state.persistent False, id readable."""
    with session_factory() as s:
        mary = User(name="Mary")
        s.add(mary)
        s.commit()
        pk = mary.id
        s.delete(mary)
        assert mary.id == pk
        s.commit()
        assert mary.id == pk
        assert mary._sa_instance_state.persistent is False
        assert flags(mary) == {"detached"} and inspect(mary).was_deleted
        with pytest.raises(sqlalchemy.orm.exc.NoResultFound):
            s.query(User).filter(User.name == "Mary").one()
    assert db.rows("users") == []


@pytest.mark.claim("states.noresultfound-message")
def test_one_without_row_raises_noresultfound_with_current_message(session_factory, db):
    """NoResultFound 'No row was found when one was required' (not the seed's '... for one()')."""
    with session_factory() as s:
        with pytest.raises(sqlalchemy.orm.exc.NoResultFound) as info:
            s.query(User).filter(User.name == "nobody").one()
    assert type(info.value) is sqlalchemy.exc.NoResultFound
    assert str(info.value) == "No row was found when one was required"
    assert "for one()" not in str(info.value)
