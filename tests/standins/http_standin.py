"""A small HTTP server on 127.0.0.1 that records what it receives and answers as it is told."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.body.decode()).items()}


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()


class HttpStandIn:
    """Subclasses say what a healthy service answers (`answer_ok`); tests may tell it otherwise.

    fail_with(status, body) answers every request with that status; hang() accepts requests and
    never answers them (until stop); behave() goes back to healthy.
    """

    def __init__(self) -> None:
        self.requests: list[ReceivedRequest] = []
        self._failure: Answer | None = None
        self._hanging = False
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HttpStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def fail_with(self, status: int, body: Any = None) -> None:
        self._failure = Answer(status, body)

    def hang(self) -> None:
        self._hanging = True

    def behave(self) -> None:
        self._failure, self._hanging = None, False

    def answer_ok(self, request: ReceivedRequest) -> Answer:
        raise NotImplementedError

    def _answer(self, request: ReceivedRequest) -> Answer | None:
        with self._lock:
            self.requests.append(request)
        if self._hanging:
            self._released.wait()
            return None
        return self._failure or self.answer_ok(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer = standin._answer(ReceivedRequest("POST", self.path, dict(self.headers.items()), body))
                if answer is None:
                    return
                payload = b"" if answer.body is None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in answer.headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
