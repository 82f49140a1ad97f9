"""Attribution of checks to claims, inside one test.

A test that checks several claims says which assertion checks which::

    @pytest.mark.claim("remove.closes-session", "remove.next-call-new-session")
    def test_remove(scoped):
        with claim("remove.closes-session"):
            ...
        with claim("remove.next-call-new-session"):
            ...

An exception escaping a ``with claim(ID):`` block is tagged with ``ID`` (the
attribute :data:`ATTR`, plus a note ``[claim ID]``), so the results collector
turns only that claim red; a block that completes marks its claim as checked.
A block naming a claim the test does not cite is an error of the test.

State machines and helpers that find a contradiction outside a block call
:func:`attribute` on the exception they raise.

This module is pytest-free; ``sa_conformance.plugin`` calls :func:`begin_test`
and :func:`end_test` around every test.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterable, Iterator

#: attribute set on an exception: the claim id whose check raised it
ATTR = "__sa_conformance_claim__"

_lock = threading.Lock()
_cited: tuple[str, ...] | None = None  # None: outside a test (no validation)
_checked: list[str] = []


class UncitedClaimError(AssertionError):
    """``claim(ID)`` names a claim the running test does not cite."""


def begin_test(cited: Iterable[str]) -> None:
    global _cited
    with _lock:
        _cited = tuple(cited)
        _checked.clear()


def end_test() -> tuple[str, ...]:
    """The claims whose blocks completed during the test, in order."""
    global _cited
    with _lock:
        done = tuple(dict.fromkeys(_checked))
        _checked.clear()
        _cited = None
    return done


def attribute(exc: BaseException, claim_id: str) -> BaseException:
    """Tag ``exc`` with ``claim_id`` unless an inner block already did."""
    if getattr(exc, ATTR, None) is None:
        try:
            setattr(exc, ATTR, claim_id)
        except (AttributeError, TypeError):  # exotic exception types
            return exc
        if hasattr(exc, "add_note"):
            exc.add_note(f"[claim {claim_id}]")
    return exc


def add_note(exc: BaseException, text: str) -> BaseException:
    """``exc.add_note(text)`` (Python 3.11+); before 3.11 the same
    ``__notes__`` list, which pytest and hypothesis show too."""
    if hasattr(exc, "add_note"):
        exc.add_note(text)
    else:
        try:
            exc.__notes__ = [*getattr(exc, "__notes__", ()), text]
        except (AttributeError, TypeError):  # exotic exception types
            pass
    return exc


def _find(exc: BaseException | None, attr: str) -> str | None:
    """``attr`` of ``exc`` or of the first exception in its cause/context
    chain that has it (at most 8 links)."""
    for _ in range(8):
        if exc is None:
            return None
        value = getattr(exc, attr, None)
        if value:
            return value
        exc = exc.__cause__ or exc.__context__
    return None


def claim_of(exc: BaseException | None) -> str | None:
    """The claim an exception was attributed to, following ``__cause__`` /
    ``__context__`` (a thread helper re-raising a worker's error)."""
    return _find(exc, ATTR)


@contextmanager
def claim(claim_id: str) -> Iterator[None]:
    """Attribute what fails inside this block to ``claim_id``."""
    with _lock:
        cited = _cited
    if cited is not None and claim_id not in cited:
        raise UncitedClaimError(
            f"claim({claim_id!r}) block in a test that cites only {', '.join(cited) or 'no claim'}; "
            f"add it to the test's @pytest.mark.claim(...)"
        )
    try:
        yield
    except BaseException as exc:
        attribute(exc, claim_id)
        raise
    with _lock:
        _checked.append(claim_id)


#: attribute set on an exception: a standalone reproduction script (text)
REPRO_ATTR = "__sa_conformance_repro__"


def attach_repro(exc: BaseException, script: str) -> BaseException:
    """Attach a standalone reproduction script to ``exc`` as structured data
    (the results collector reads the attribute, never the rendered text)."""
    try:
        setattr(exc, REPRO_ATTR, script)
    except (AttributeError, TypeError):
        pass
    return exc


def repro_of(exc: BaseException | None) -> str | None:
    return _find(exc, REPRO_ATTR)
