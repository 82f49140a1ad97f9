"""Session Basics: autobegin, execute() and Session events, behaviour changes at
exact releases (#6360, #8614, #8467, #12216, #12921)."""

import pytest
from sqlalchemy import bindparam, event, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from sa_conformance.orm_models import User


@pytest.mark.claim("session-basics.attribute-change-no-autobegin")
def test_attribute_change_does_not_autobegin(session_factory, db):
    """1.4.0 .. 1.4.11: changing a persistent object's attribute outside a
    transaction does not autobegin, so rollback() keeps the change."""
    with session_factory(expire_on_commit=False) as s:
        u = User(name="x")
        s.add(u)
        s.commit()
        u.name = "y"
        assert not s.in_transaction() and s.get_transaction() is None
        s.rollback()
        assert u.name == "y" and "name" in u.__dict__


def _execute_with_bind_arguments(session_factory):
    bind_arguments = {"mapper": inspect(User)}
    with session_factory() as s:
        s.execute(select(User), bind_arguments=bind_arguments).all()
    return bind_arguments


@pytest.mark.claim("session-basics.execute-bind-arguments-mutated")
def test_execute_adds_keys_to_bind_arguments(session_factory, db):
    """Before 1.4.42: execute() writes internal keys ('clause') into the caller's dict."""
    bind_arguments = _execute_with_bind_arguments(session_factory)
    assert bind_arguments["mapper"] is inspect(User) and "clause" in bind_arguments


@pytest.mark.claim("session-basics.execute-bind-arguments-untouched")
def test_execute_leaves_bind_arguments_alone(session_factory, db):
    """1.4.42+: the caller's dict is copied, not changed (#8614)."""
    bind_arguments = _execute_with_bind_arguments(session_factory)
    assert list(bind_arguments) == ["mapper"] and bind_arguments["mapper"] is inspect(User)


def _class_and_sessionmaker_listeners(engine):
    seen = []

    class ListenedSession(Session):
        pass

    event.listen(ListenedSession, "after_begin", lambda *a: seen.append("class"))
    factory = sessionmaker(bind=engine, class_=ListenedSession)
    event.listen(factory, "after_begin", lambda *a: seen.append("sessionmaker"))
    with factory() as s:
        s.execute(select(User.id)).all()
    return seen


@pytest.mark.claim("session-basics.sessionmaker-listener-hides-class-listener")
def test_sessionmaker_listener_hides_class_listener(engine, db):
    """Before 1.4.41: only the sessionmaker's listener fires."""
    assert _class_and_sessionmaker_listeners(engine) == ["sessionmaker"]


@pytest.mark.claim("session-basics.sessionmaker-and-class-listeners")
def test_sessionmaker_and_class_listeners_fire(engine, db):
    """1.4.41+: both the Session class's and the sessionmaker's listeners fire (#8467)."""
    assert sorted(_class_and_sessionmaker_listeners(engine)) == ["class", "sessionmaker"]


def _one_listener_two_sessionmakers(engine):
    seen = []

    def on_begin(session, transaction, connection):
        seen.append(session.info["n"])

    makers = [sessionmaker(bind=engine, info={"n": n}) for n in (1, 2)]
    for maker in makers:
        event.listen(maker, "after_begin", on_begin)

    def use_both():
        for maker in makers:
            with maker() as s:
                s.execute(select(User.id)).all()

    def remove_both():
        for maker in makers:
            event.remove(maker, "after_begin", on_begin)

    return seen, use_both, remove_both


@pytest.mark.claim("session-basics.listener-two-sessionmakers-remove-fails")
def test_listener_on_two_sessionmakers_cannot_be_removed(engine, db):
    """Before 2.0.37: removing the listener from both sessionmakers raises KeyError."""
    seen, use_both, remove_both = _one_listener_two_sessionmakers(engine)
    use_both()
    assert seen == [1, 2]
    with pytest.raises(KeyError):
        remove_both()


@pytest.mark.claim("session-basics.listener-two-sessionmakers")
def test_listener_on_two_sessionmakers_fires_and_is_removed(engine, db):
    """2.0.37+: it fires for both sessionmakers and is removed from both (#12216)."""
    seen, use_both, remove_both = _one_listener_two_sessionmakers(engine)
    use_both()
    remove_both()
    use_both()
    assert seen == [1, 2]


def _swap_parameters_in_do_orm_execute(session_factory):
    with session_factory() as s:
        s.add(User(name="u1"))
        s.commit()

        @event.listens_for(s, "do_orm_execute")
        def swap(state):
            if state.is_select:
                state.parameters = {"n": "u1"}

        return s.execute(select(User.name).where(User.name == bindparam("n")), {"n": "nobody"}).all()


@pytest.mark.claim("session-basics.do-orm-execute-parameters-ignored")
def test_do_orm_execute_parameters_replacement_ignored(session_factory, db):
    """Until 2.1: the statement runs with the parameters given to execute()."""
    assert _swap_parameters_in_do_orm_execute(session_factory) == []


@pytest.mark.claim("session-basics.do-orm-execute-parameters-replaced")
def test_do_orm_execute_parameters_replacement_applied(session_factory, db):
    """2.1+: the statement runs with the hook's parameters (#12921)."""
    assert _swap_parameters_in_do_orm_execute(session_factory) == [("u1",)]
