"""The scopes a scoped_session registry keys on, as long-lived workers the
test thread drives: a real thread, a greenlet on the test thread, a
request-like token.  Every wait is bounded (:data:`COMMAND_TIMEOUT`).
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable

COMMAND_TIMEOUT = 20.0


class ScopeCommandTimeout(AssertionError):
    pass


# -- long-lived workers -----------------------------------------------------------
class ThreadWorker:
    """A real thread that executes callables sent to it, one at a time."""

    def __init__(self, name: str) -> None:
        self._q: queue.Queue[Any] = queue.Queue()
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            fn, box, done = item
            try:
                box.append(("ok", fn()))
            except BaseException as exc:  # handed back to the caller
                box.append(("err", exc))
            finally:
                done.set()

    def run(self, fn: Callable[[], Any], timeout: float = COMMAND_TIMEOUT) -> Any:
        box: list = []
        done = threading.Event()
        self._q.put((fn, box, done))
        if not done.wait(timeout):
            raise ScopeCommandTimeout(f"{self.thread.name}: command did not finish within {timeout:.0f}s")
        kind, value = box[0]
        if kind == "err":
            raise value
        return value

    def stop(self, timeout: float = 5.0) -> None:
        self._q.put(None)
        self.thread.join(timeout)


class GreenletWorker:
    """A greenlet on the calling thread that executes callables switched in."""

    def __init__(self) -> None:
        import greenlet

        self.glet = greenlet.greenlet(self._loop)
        self.glet.switch()  # runs to its first wait

    def _loop(self) -> None:
        item = self.glet.parent.switch()
        while item is not None:
            try:
                result = ("ok", item())
            except BaseException as exc:
                result = ("err", exc)
            item = self.glet.parent.switch(result)

    def run(self, fn: Callable[[], Any]) -> Any:
        kind, value = self.glet.switch(fn)
        if kind == "err":
            raise value
        return value

    def stop(self) -> None:
        if not self.glet.dead:
            self.glet.switch(None)


class Request:
    """A request-like, hashable scope token (the docs' get_current_request())."""

    def __init__(self, number: int) -> None:
        self.number = number

    def __repr__(self) -> str:
        return f"Request({self.number})"
