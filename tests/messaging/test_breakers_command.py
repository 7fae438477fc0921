"""`manage.py messaging_breakers`: every breaker in a table, and --reset NAME."""

from __future__ import annotations

import logging
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from messaging import breaker as breaker_module
from messaging import registry
from messaging.breaker import breaker_for
from messaging.breaker_store import LocalStore


def run(*args: str) -> dict[str, list[str]]:
    """The command's table, as provider -> its cells."""
    out = StringIO()
    call_command("messaging_breakers", *args, stdout=out)
    rows = {}
    for line in out.getvalue().splitlines():
        cells = line.split()
        if cells and cells[0] in registry.names():
            rows[cells[0]] = cells
    rows["_output"] = [out.getvalue()]
    return rows


def open_breaker(provider: str) -> None:
    breaker = breaker_for(provider)
    for _ in range(5):
        permit = breaker.acquire()
        assert permit is not None
        breaker.record_failure(permit, "503 Service Unavailable")


def test_it_lists_every_provider_breaker_closed_by_default() -> None:
    rows = run()
    assert "provider" in rows["_output"][0].splitlines()[0]
    for name in registry.names():
        assert rows[name][1:4] == ["closed", "0", "0"]


def test_it_shows_an_open_breaker_with_its_failures_and_last_error() -> None:
    open_breaker("twilio")
    cells = run()["twilio"]
    assert cells[1:4] == ["open", "5", "0"]
    assert "redis" in cells
    assert "503 Service Unavailable" in " ".join(cells)


def test_reset_closes_one_breaker_and_leaves_the_others(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="messaging.breaker")
    open_breaker("ses")
    open_breaker("sns")
    rows = run("--reset", "ses")
    assert "reset ses" in rows["_output"][0]
    assert rows["ses"][1:3] == ["closed", "0"]
    assert rows["sns"][1:3] == ["open", "5"]
    assert breaker_for("ses").acquire() is not None
    assert [r.getMessage() for r in caplog.records if "breaker.reset" in r.getMessage()] == [
        "event=breaker.reset provider=ses store=redis"
    ]


def test_reset_of_an_unknown_provider_is_an_error() -> None:
    with pytest.raises(CommandError, match="unknown provider 'pigeon'"):
        call_command("messaging_breakers", "--reset", "pigeon", stdout=StringIO())


def test_it_says_when_redis_is_unreachable(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(breaker_module, "_local_store", LocalStore())
    monkeypatch.setattr(breaker_module, "_redis_down_until", {})
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    rows = run()
    assert rows["ses"][1] == "closed" and "local" in rows["ses"]
    assert "Redis is unreachable" in rows["_output"][0]
