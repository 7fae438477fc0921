"""Fetching from SNS (signing certificates, SubscribeURL) without tying up web workers.

Every fetch runs in its own thread and the caller waits at most SNS_CERT_FETCH_TIMEOUT_SECONDS
in total, name resolution included (the thread gives up on its own soon after). At most
SNS_CERT_MAX_CONCURRENT_FETCHES run at once; a caller beyond that is refused at once
(FetchBusy). A URL that failed is not fetched again for SNS_CERT_FAILURE_CACHE_SECONDS.
"""

from __future__ import annotations

import ssl
import threading
import time
import urllib.request
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from django.conf import settings

MAX_BYTES = 64 * 1024
FAILURES_KEPT = 1024


class FetchFailed(Exception):
    """The fetch failed, timed out, or failed recently (then it was not tried again)."""


class FetchBusy(FetchFailed):
    """Every fetch slot is taken: try again later."""


_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}
_failed_at: dict[str, float] = {}


def _semaphore() -> threading.BoundedSemaphore:
    size = max(1, settings.SNS_CERT_MAX_CONCURRENT_FETCHES)
    with _lock:
        return _slots.setdefault(size, threading.BoundedSemaphore(size))


def forget_failures() -> None:
    with _lock:
        _failed_at.clear()


def _recent_failure(url: str, now: float) -> bool:
    with _lock:
        failed_at = _failed_at.get(url)
        if failed_at is not None and now - failed_at >= settings.SNS_CERT_FAILURE_CACHE_SECONDS:
            del _failed_at[url]
            failed_at = None
        return failed_at is not None


def _note_failure(url: str, now: float) -> None:
    with _lock:
        _failed_at.pop(url, None)
        if len(_failed_at) >= FAILURES_KEPT:  # the oldest goes first
            _failed_at.pop(next(iter(_failed_at)))
        _failed_at[url] = now


def fetch(url: str) -> bytes:
    """GET `url` (already checked by the caller), within the total timeout; FetchFailed otherwise."""
    started = time.monotonic()
    if _recent_failure(url, started):
        raise FetchFailed("failed recently")
    slots = _semaphore()
    if not slots.acquire(blocking=False):
        raise FetchBusy("too many fetches at once")
    deadline = started + settings.SNS_CERT_FETCH_TIMEOUT_SECONDS
    result: Future[bytes] = Future()
    context = ssl.create_default_context(cafile=settings.SNS_CERT_CA_BUNDLE or None)
    threading.Thread(target=_run, args=(url, deadline, context, result, slots), daemon=True).start()
    try:
        return result.result(timeout=max(0.0, deadline - time.monotonic()))
    except FutureTimeout:
        _note_failure(url, time.monotonic())
        raise FetchFailed("timed out") from None
    except (OSError, ValueError) as err:
        _note_failure(url, time.monotonic())
        raise FetchFailed(type(err).__name__) from err


def _run(url: str, deadline: float, context: ssl.SSLContext, result: Future[bytes],
         slots: threading.BoundedSemaphore) -> None:  # fmt: skip
    try:
        result.set_result(_get(url, deadline, context))
    except BaseException as err:  # handed to the caller, who may have stopped waiting
        result.set_exception(err)
    finally:
        slots.release()


def _get(url: str, deadline: float, context: ssl.SSLContext) -> bytes:
    # No redirect may lead off the checked URL: urllib's default handler would follow one.
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _NoRedirect())
    with opener.open(url, timeout=max(0.1, deadline - time.monotonic())) as response:
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_BYTES:
            if time.monotonic() > deadline:
                raise TimeoutError("fetch took too long")
            chunk = response.read(8192)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)[:MAX_BYTES]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None
