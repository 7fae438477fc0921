"""A tenant's callback endpoint: records each POST, answers as scripted (then 204), or never answers."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from tests.standins.http_standin import Answer, HttpStandIn, ReceivedRequest


class CallbackReceiver(HttpStandIn):
    def __init__(self, statuses: Iterable[int] = ()) -> None:
        super().__init__()
        self._script = list(statuses)
        self.arrived = threading.Condition()

    def answer_ok(self, request: ReceivedRequest) -> Answer:
        with self.arrived:
            status = self._script.pop(0) if self._script else 204
        return Answer(status)

    def _answer(self, request: ReceivedRequest) -> Answer | None:
        with self.arrived:
            self.requests.append(request)
            self.arrived.notify_all()
        if self._hanging:
            self._released.wait()
            return None
        return self._failure or self.answer_ok(request)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[ReceivedRequest]:
        """Block until `count` requests have arrived (woken by the server, not by polling)."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.requests) >= count, timeout=timeout)
            assert len(self.requests) >= count, f"{len(self.requests)} of {count} callbacks arrived"
            return list(self.requests)


def header(request: ReceivedRequest, name: str) -> str:
    return next(value for key, value in request.headers.items() if key.lower() == name)
