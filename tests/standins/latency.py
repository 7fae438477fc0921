"""Stand-ins that answer after a delay, as real provider APIs do (100-300 ms), and keep connections alive.

Used by the thread-pool tests (tests/workers/test_thread_pool.py) and the latency bench
(bench/latency.py). Each counts the calls in flight (now and at the peak), so a test can show how
many calls one worker really had open at once. `hold(predicate)` keeps the requests it matches
waiting until the gate it returns is set (or `release()`).
"""

from __future__ import annotations

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.standins.http_standin import Answer, HttpStandIn, ReceivedRequest
from tests.standins.sendgrid import SendGridStandIn
from tests.standins.twilio import TwilioStandIn

BACKLOG = 1024


class BigBacklogServer(ThreadingHTTPServer):
    request_queue_size = BACKLOG
    daemon_threads = True


class InFlight:
    """Calls being answered right now, and the most there were at once."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self.answered = 0
        self._lock = threading.Lock()

    def __enter__(self) -> InFlight:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        return self

    def __exit__(self, *_: Any) -> None:
        with self._lock:
            self.now -= 1
            self.answered += 1


class SlowMixin:
    """An HttpStandIn answering `delay` seconds late over HTTP/1.1 keep-alive connections."""

    delay = 0.2
    record = True  # a long bench keeps no request list

    def __init__(self, delay: float = 0.2, *, record: bool = True) -> None:
        self.delay, self.record = delay, record
        self.in_flight = InFlight()
        self.connections = 0  # TCP connections accepted: keep-alive clients open few
        self._gates: list[tuple[Any, threading.Event]] = []
        super().__init__()  # type: ignore[call-arg]
        # socketserver listens with a backlog of 5: 60 connections opened at once would wait for
        # SYN retries (a second each) instead of being accepted.
        self._server.socket.listen(BACKLOG)  # type: ignore[attr-defined]

    def hold(self, predicate: Any) -> threading.Event:
        """Keep the requests for which predicate(request) is true waiting until the returned gate is set."""
        gate = threading.Event()
        self._gates.append((predicate, gate))
        return gate

    def release(self) -> None:
        for _, gate in self._gates:
            gate.set()

    def _answer(self, request: ReceivedRequest) -> Answer | None:
        with self.in_flight:
            for predicate, gate in list(self._gates):
                if predicate(request):
                    gate.wait(timeout=60)
            time.sleep(self.delay)
            if self.record:
                return super()._answer(request)  # type: ignore[misc, no-any-return]
            return self.answer_ok(request)  # type: ignore[attr-defined, no-any-return]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self
        base = super()._handler_class()  # type: ignore[misc]

        class KeepAliveHandler(base):  # type: ignore[valid-type, misc]
            protocol_version = "HTTP/1.1"  # keep-alive, as the real APIs
            # Headers and body go out as separate writes: without TCP_NODELAY the body waits for the
            # client's delayed ACK (about 40 ms) on a kept-alive connection.
            disable_nagle_algorithm = True

            def setup(self) -> None:
                with standin._lock:  # type: ignore[attr-defined]
                    standin.connections += 1  # one handler per accepted connection
                super().setup()

        return KeepAliveHandler


class SlowTwilio(SlowMixin, TwilioStandIn):
    """Twilio's Messages API, `delay` seconds late."""


class SlowSendGrid(SlowMixin, SendGridStandIn):
    """SendGrid's Mail Send API, `delay` seconds late."""


class DelayingProxy:
    """An HTTP/1.1 proxy in front of moto (SES, SNS) that forwards each request after `delay` seconds."""

    def __init__(self, target_url: str, delay: float = 0.2) -> None:
        self.delay = delay
        self.in_flight = InFlight()
        target = urlsplit(target_url)
        self._target = (target.hostname or "127.0.0.1", target.port or 80)
        self._local = threading.local()
        self._server = BigBacklogServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> DelayingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, list[Any], bytes]:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = http.client.HTTPConnection(*self._target, timeout=30)
        with self.in_flight:
            time.sleep(self.delay)
            connection.request(method, path, body=body, headers=headers)
            answer = connection.getresponse()
            return answer.status, answer.getheaders(), answer.read()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers, payload = proxy.forward("POST", self.path, dict(self.headers.items()), body)
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


__all__ = ["DelayingProxy", "HttpStandIn", "InFlight", "SlowSendGrid", "SlowTwilio"]
