"""Schema postprocessing: every operation that takes an Idempotency-Key documents its 409 and 422."""

from __future__ import annotations

from typing import Any

from otpsite.idempotency.decorators import HEADER

DETAIL = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
RESPONSES = {
    "409": "A request with this Idempotency-Key is still in progress (see Retry-After)",
    "422": "This Idempotency-Key was already used with a different request body",
}


def add_idempotency_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            if not any(p.get("name") == HEADER for p in operation.get("parameters", [])):
                continue
            for code, description in RESPONSES.items():
                response: dict[str, Any] = {
                    "description": description,
                    "content": {"application/json": {"schema": DETAIL}},
                }
                if code == "409":
                    response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "required": True}}
                operation.setdefault("responses", {}).setdefault(code, response)
    return result
