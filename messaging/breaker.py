"""PLACEHOLDER (issue 4 replaces it): the interface the failover loop uses."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Permit:
    provider: str


class CircuitBreaker:
    def __init__(self, provider: str) -> None:
        self.provider = provider

    def acquire(self) -> Permit | None:
        return Permit(self.provider)

    def record_success(self, permit: Permit) -> None:
        return None

    def record_failure(self, permit: Permit, error: str) -> None:
        return None

    def release(self, permit: Permit) -> None:
        return None


def breaker_for(provider: str) -> CircuitBreaker:
    return CircuitBreaker(provider)
