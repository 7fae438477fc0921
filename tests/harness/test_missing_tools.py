"""A test whose tool is missing skips on a developer's machine and fails under CI."""

from __future__ import annotations

import pytest

from tests.helpers import missing_tool

# Caught together, so that a skip where a failure is due fails this test instead of skipping it.
OUTCOMES = (pytest.fail.Exception, pytest.skip.Exception)


@pytest.mark.parametrize("value", ["true", "1", "yes", "True"])
def test_a_missing_tool_fails_the_test_under_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)

    with pytest.raises(OUTCOMES) as raised:
        missing_tool("promtool is not installed")

    assert raised.type is pytest.fail.Exception
    assert "promtool is not installed" in str(raised.value)


@pytest.mark.parametrize("value", [None, "", "0", "false"])
def test_a_missing_tool_skips_the_test_outside_ci(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)

    with pytest.raises(OUTCOMES) as raised:
        missing_tool("RabbitMQ is not answering on 127.0.0.1:5672")

    assert raised.type is pytest.skip.Exception
    assert "RabbitMQ is not answering" in str(raised.value)
