"""Long-lived real threads that run one step each *at the same time*.

``Crew(n).round([fn0, fn1, ...])`` hands ``fn_i`` to thread ``i``; every
thread waits on one barrier and then runs its step, so the steps overlap.
Joins are bounded: a thread that does not finish within ``timeout`` fails
the round (the barrier is aborted), so no walk can hang the run.  The same
source is embedded in reproduction scripts (:data:`CREW_SOURCE`).
"""

from __future__ import annotations

CREW_SOURCE = r'''
import queue
import threading


class Crew:
    def __init__(self, n, timeout=15.0):
        self.n, self.timeout = n, timeout
        self.queues = [queue.Queue() for _ in range(n)]
        self.threads = [threading.Thread(target=self._loop, args=(q,), name="scope-%d" % i, daemon=True)
                        for i, q in enumerate(self.queues)]
        for t in self.threads:
            t.start()

    def _loop(self, q):
        while True:
            item = q.get()
            if item is None:
                return
            fn, barrier, box, done = item
            try:
                barrier.wait()
                box.append(("ok", fn()))
            except BaseException as exc:
                barrier.abort()
                box.append(("err", exc))
            finally:
                done.set()

    def round(self, fns):
        """Run fns[i] on thread i, all released by one barrier; results in order."""
        barrier = threading.Barrier(self.n, timeout=self.timeout)
        boxes, dones = [], []
        for q, fn in zip(self.queues, fns):
            box, done = [], threading.Event()
            q.put((fn, barrier, box, done))
            boxes.append(box)
            dones.append(done)
        for i, done in enumerate(dones):
            if not done.wait(self.timeout):
                barrier.abort()
                raise AssertionError("thread %d did not finish its step within %.0fs" % (i, self.timeout))
        out = []
        for i, box in enumerate(boxes):
            kind, value = box[0]
            if kind == "err" and not isinstance(value, threading.BrokenBarrierError):
                raise AssertionError("thread %d raised %s: %s" % (i, type(value).__name__, value)) from value
            out.append(value if kind == "ok" else None)
        return out

    def stop(self):
        for q in self.queues:
            q.put(None)
        for t in self.threads:
            t.join(5.0)
'''

_ns: dict = {}
exec(CREW_SOURCE, _ns)
Crew = _ns["Crew"]
