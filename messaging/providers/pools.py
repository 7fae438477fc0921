"""One SDK client, and so one kept-alive HTTP connection pool, per process, provider and setting.

Under the worker's thread pool many provider calls run at once in one process. The clients are
safe to share once built (boto3 clients, a requests session, a urllib3 pool manager), but building
one is not (boto3 sessions race on their component registry), and two threads missing the cache at
once would each build a pool. `one_per_process` builds each client once, under a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Generic, TypeVar

import requests
from django.conf import settings

if TYPE_CHECKING:
    from messaging.providers.base import Credential

T = TypeVar("T")

_build_lock = threading.Lock()


class OnePerProcess(Generic[T]):
    """A factory called at most once per distinct argument tuple in this process."""

    def __init__(self, factory: Callable[..., T]) -> None:
        self.factory = factory
        self.built: dict[tuple[Hashable, ...], T] = {}
        self.__doc__ = factory.__doc__

    def __call__(self, *args: Hashable) -> T:
        client = self.built.get(args)
        if client is None:
            with _build_lock:  # builds are rare (once per setting); one lock serves them all
                client = self.built.get(args)
                if client is None:
                    client = self.built[args] = self.factory(*args)
        return client

    def cache_clear(self) -> None:
        with _build_lock:
            self.built.clear()


def one_per_process(factory: Callable[..., T]) -> OnePerProcess[T]:
    return OnePerProcess(factory)


def read_environment_once(session: requests.Session, url: str) -> None:
    """Take the proxies and CA bundle the environment gives for `url` now, and stop the session
    reading the environment (and ~/.netrc) again on every request: trust_env cost about a third of
    a kept-alive call's CPU. The answer is the same as before for every call to `url`'s host."""
    found = session.merge_environment_settings(url, {}, None, None, None)
    session.proxies.update(found["proxies"])
    session.verify = found["verify"]
    session.trust_env = False


def http_pool_size() -> int:
    """Connections each provider keeps alive per process: one per call the worker can have in flight."""
    return int(settings.PROVIDER_HTTP_POOL_SIZE)


class PerCredential(Generic[T]):
    """SDK clients of tenants' own accounts: one per (provider, credential id) in this process.

    A client is kept for one version of its credential and for the `shape` (endpoint, timeouts, pool
    size) it was built with; a new version (the tenant changed its keys) or shape builds a new one in
    its place, so a process holds at most one client per credential. Keyed by ids, never by secrets.
    """

    def __init__(self) -> None:
        self.built: dict[tuple[str, int], tuple[int, tuple[Hashable, ...], T]] = {}

    def get(self, credential: Credential, shape: tuple[Hashable, ...], build: Callable[[], T]) -> T:
        key = (credential.provider, credential.id)
        found = self.built.get(key)
        if found is not None and found[0] == credential.version and found[1] == shape:
            return found[2]
        with _build_lock:
            found = self.built.get(key)
            if found is None or found[0] != credential.version or found[1] != shape:
                found = self.built[key] = (credential.version, shape, build())
            return found[2]

    def cache_clear(self) -> None:
        with _build_lock:
            self.built.clear()
