"""Registry identity: the scoped_session registry hands out one Session per scope."""

import pytest
from sqlalchemy.orm import Session


@pytest.mark.claim("registry.same-session-in-scope")
def test_repeated_calls_in_one_scope_return_the_same_session(scoped):
    """"Calling the registry again returns the same Session" (some_session is some_other_session)."""
    first = scoped()
    second = scoped()
    assert isinstance(first, Session)
    assert first is second
    scoped.remove()
