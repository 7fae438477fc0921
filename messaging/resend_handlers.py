"""Who resends a message a failure receipt blamed on its provider, by the kind of message it is.

Messaging knows nothing of the kinds above it: a layer above registers a handler for its kind
(`metadata["kind"]` of the log row) when its app is ready, and the receipts call it after the
failure commits.
"""

from __future__ import annotations

from collections.abc import Callable

# (log id, reason) -> None. It should only enqueue work: it runs inside the receipt's request.
ResendHandler = Callable[[int, str], None]

_handlers: dict[str, ResendHandler] = {}


def register(kind: str, handler: ResendHandler) -> None:
    """Make `handler` the one that resends logs whose metadata names `kind` (a second call replaces it)."""
    _handlers[kind] = handler


def handler_for(kind: str) -> ResendHandler | None:
    return _handlers.get(kind)


def request_resend(kind: str, log_id: int, reason: str) -> bool:
    """Ask the handler of `kind` to resend log `log_id`. Returns whether one was registered."""
    handler = _handlers.get(kind)
    if handler is None:
        return False
    handler(log_id, reason)
    return True
