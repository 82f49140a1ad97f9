"""Re-arguments: keyword arguments are only accepted when the scope is empty."""

import pytest
from sqlalchemy.exc import InvalidRequestError

REARGS_MESSAGE = r"^Scoped session is already present; no new arguments may be specified\.$"


@pytest.mark.claim("reargs.present-raises")
def test_kwargs_while_session_present_raise_invalid_request(scoped):
    """"If the Session is present and keyword arguments have been passed,
    InvalidRequestError is raised." """
    present = scoped()
    with pytest.raises(InvalidRequestError, match=REARGS_MESSAGE):
        scoped(autoflush=False)
    assert scoped() is present, "the failed call must not replace the Session"
    scoped.remove()
