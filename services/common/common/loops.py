"""A background loop of a service's own, beside its workers (the outbox relay, the webhooks sender):
woken at once when there is work (``wake``), and once every ``interval`` anyway as a safety net;
wake-ups that pile up make one pass. ``stop`` returns once the loop's thread has ended."""
from __future__ import annotations

from collections.abc import Callable

import eventlet
import eventlet.queue
from greenlet import GreenletExit


class Loop:
    def __init__(self, interval: float, one_pass: Callable[[], None], *, pass_on_stop: bool = False):
        self.interval = interval
        self.one_pass = one_pass
        self.pass_on_stop = pass_on_stop  # one last pass after ``stop`` (the outbox: what was committed leaves)
        self.stopping = False
        self._wake = eventlet.queue.LightQueue()
        self._thread = None

    def start(self, container, identifier: str) -> None:
        self._thread = container.spawn_managed_thread(self._run, identifier=identifier)

    def wake(self) -> None:
        self._wake.put(True)

    def stop(self) -> None:
        """Returns once the loop (and its last pass, if it makes one) has ended; twice is fine."""
        self.stopping = True
        self._wake.put(True)
        thread = self._thread
        if thread is not None:
            try:
                thread.wait()
            except GreenletExit:  # killed by the container (``kill``): nothing left to wait for
                pass

    def _run(self) -> None:
        while not self.stopping:
            try:
                self._wake.get(timeout=self.interval)
            except eventlet.queue.Empty:
                pass
            while not self._wake.empty():  # many wake-ups, one pass
                self._wake.get_nowait()
            if not self.stopping or self.pass_on_stop:
                self.one_pass()
