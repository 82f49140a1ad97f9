"""Autoflush of multi-part ORM operator expressions (#12357): a 2.0 regression
window fixed in 2.0.39 (1.4 and 2.1 autoflush too)."""

import pytest
from sqlalchemy import select

from sa_conformance.orm_models import User
from sa_conformance.state_helpers import state_flags as flags


def _pending_then_operator_select(s):
    u = User(id=5, name="p")
    s.add(u)
    return u, sorted(s.execute(select(User.id + User.id + User.id)).scalars().all())


@pytest.mark.claim("transactions.operator-expression-no-autoflush")
def test_operator_expression_select_does_not_autoflush(session_factory, db):
    """2.0.0 .. 2.0.38: select(User.id + User.id + User.id) is not an ORM
    statement, so Session.execute() leaves the pending User unflushed."""
    with session_factory() as s:
        u, values = _pending_then_operator_select(s)
        assert values == [] and u in s.new and flags(u) == {"pending"}


@pytest.mark.claim("transactions.operator-expression-autoflush")
def test_operator_expression_select_autoflushes(session_factory, db):
    """2.0.39+: the same select() autoflushes the pending User first and sees it (#12357)."""
    with session_factory() as s:
        u, values = _pending_then_operator_select(s)
        assert values == [15] and not s.new and flags(u) == {"persistent"}
