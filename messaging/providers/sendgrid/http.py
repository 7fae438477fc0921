"""The SendGrid SDK's HTTP client on a kept-alive urllib3 pool, shared by every thread of a process.

python_http_client opens a new urllib connection for every request (and a TLS handshake with it);
at 100 calls in flight that is 100 handshakes a round. This client keeps the SDK's URL building,
headers and error translation and only replaces how the request travels: through one urllib3
PoolManager with separate connect and read timeouts and no retries of its own.
"""

from __future__ import annotations

import io
import urllib.request
from email.message import Message as HeaderMessage
from typing import Any
from urllib.error import HTTPError as UrllibHTTPError

import python_http_client
import urllib3
from python_http_client.exceptions import handle_error


class PooledAnswer:
    """What python_http_client.Response reads from a urllib answer, from a urllib3 one."""

    def __init__(self, answer: urllib3.BaseHTTPResponse) -> None:
        self.answer = answer

    def getcode(self) -> int:
        return int(self.answer.status)

    def read(self) -> bytes:
        return bytes(self.answer.data)

    def info(self) -> Any:
        return self.answer.headers


class PooledClient(python_http_client.Client):
    """python_http_client.Client whose requests (and the clients it builds per URL segment) use `pool`."""

    def __init__(self, pool: urllib3.PoolManager, pool_timeout: urllib3.Timeout, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pool = pool
        self.pool_timeout = pool_timeout

    def _build_client(self, name: str | None = None) -> PooledClient:
        return PooledClient(
            self.pool,
            self.pool_timeout,
            host=self.host,
            version=self._version,
            request_headers=self.request_headers,
            url_path=[*self._url_path, name] if name else self._url_path,
            append_slash=self.append_slash,
            timeout=self.timeout,
        )

    def _make_request(self, opener: Any, request: urllib.request.Request, timeout: Any = None) -> PooledAnswer:
        answer = self.pool.request(
            request.get_method(),
            request.full_url,
            body=request.data,  # type: ignore[arg-type]
            headers=dict(request.header_items()),
            timeout=self.pool_timeout,
            retries=False,
            preload_content=True,
        )
        if answer.status >= 400:
            headers = HeaderMessage()
            for key, value in answer.headers.items():
                headers[key] = value
            error = UrllibHTTPError(
                request.full_url, answer.status, answer.reason or "", headers, io.BytesIO(answer.data)
            )
            raise handle_error(error)
        return PooledAnswer(answer)


def pooled_client(*, host: str, headers: dict[str, str], connect: float, read: float, pool: int) -> PooledClient:
    manager = urllib3.PoolManager(num_pools=2, maxsize=pool, block=False)
    # `total` bounds the whole call, not only each wait for data (a server trickling bytes stops too).
    timeout = urllib3.Timeout(connect=connect, read=read, total=connect + read)
    return PooledClient(manager, timeout, host=host, request_headers=headers, version=3)
