"""Run a test once per write path: one statement with CTEs (PostgreSQL) and the ORM's transaction.

`make run` on SQLite takes the ORM path; the tests run on PostgreSQL, so they force it here.
"""

from __future__ import annotations

import pytest


@pytest.fixture(params=["one statement", "orm transaction"])
def write_path(request, monkeypatch) -> str:
    if request.param == "orm transaction":
        monkeypatch.setattr("messaging.one_statement.enabled", lambda: False)
    return str(request.param)
