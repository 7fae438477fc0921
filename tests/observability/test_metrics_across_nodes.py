"""Every dashboard panel and alert reads the service as a whole when Prometheus scrapes each node.

Counters exist once per node (each worker and web node counts its own), so they are summed, never
by instance. The figures every web node reads from Redis and PostgreSQL (observability/collectors.py)
exist once per web node with the same value, so they are taken once (max or min), never summed.
promtool runs the alert rules on series from two nodes (deploy/prometheus/alerts_test.yml); this
checks every expression's shape, the dashboard's included.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
METRIC = re.compile(r"\b((?:otp|messaging)_[a-z0-9_]+)\b")
# `max(x)` with no `by` aggregates over every label, the node's among them.
AGGREGATION = re.compile(r"\b(sum|max|min|avg|count)(?: by \(([^)]*)\))?\s*$")
SHARED_FIGURES = {
    "messaging_breaker_state",
    "messaging_queue_depth",
    "messaging_undelivered_messages",
    "messaging_oldest_undelivered_age_seconds",
    "messaging_provider_quota_used",
    "messaging_provider_quota_limit",
    "messaging_tenant_budget_used_ratio",
    "messaging_tenant_breaker_state",
}
# Whether one web node can read Redis and PostgreSQL is a fact about that node: alerted per node.
PER_NODE_ALERTS = {"MessagingMetricsSourceDown"}


def innermost_aggregation(expression: str, index: int) -> tuple[str, list[str]] | None:
    """The `op by (labels)` whose parentheses hold position `index`, the innermost one."""
    opened: list[int] = []
    for position, char in enumerate(expression[:index]):
        if char == "(":
            opened.append(position)
        elif char == ")" and opened:
            opened.pop()
    for position in reversed(opened):
        match = AGGREGATION.search(expression[:position])
        if match:
            labels = match.group(2) or ""
            return match.group(1), [label.strip() for label in labels.split(",") if label.strip()]
    return None


def dashboard_expressions() -> list[tuple[str, str]]:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "otpsvc-overview.json").read_text())
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel["targets"]]


def alert_expressions() -> list[tuple[str, str]]:
    text = (DEPLOY / "prometheus" / "alerts.yml").read_text()
    found = re.findall(r"alert: (\S+)\n(?:\s+#.*\n)*\s+expr: (?:\|\n)?((?:.+\n?)+?)\s+(?:for|labels):", text)
    return [(name, expression) for name, expression in found if name not in PER_NODE_ALERTS]


def problems(expression: str) -> list[str]:
    found = []
    for match in METRIC.finditer(expression):
        name, aggregation = match.group(1), innermost_aggregation(expression, match.start())
        if aggregation is None:
            found.append(f"{name} is not aggregated across nodes")
            continue
        op, labels = aggregation
        if "instance" in labels or "job" in labels:
            found.append(f"{name} is kept apart per node ({op} by {labels})")
        elif name in SHARED_FIGURES and op not in ("max", "min"):
            found.append(f"{name} is the same on every web node: {op} would count it once per node")
        elif name not in SHARED_FIGURES and op != "sum":
            found.append(f"{name} is counted per node: {op} would not add the nodes up")
    return found


@pytest.mark.parametrize(
    ("where", "expressions"), [("dashboard", dashboard_expressions), ("alerts", alert_expressions)]
)
def test_every_expression_adds_counters_over_nodes_and_takes_shared_figures_once(where, expressions):
    checked = expressions()

    assert len(checked) >= 5
    for title, expression in checked:
        assert problems(expression) == [], f"{where}: {title}: {expression}"


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("rate(otp_sends_total[5m])", "not aggregated"),
        ("sum by (channel, instance) (rate(otp_sends_total[5m]))", "kept apart per node"),
        ("sum by (queue) (messaging_queue_depth)", "same on every web node"),
        ("sum(messaging_queue_depth)", "same on every web node"),
        ("max(rate(otp_sends_total[5m]))", "would not add the nodes up"),
        ("max by (channel) (increase(messaging_messages_total[15m]))", "would not add the nodes up"),
    ],
)
def test_the_check_finds_each_way_of_reading_one_node_as_the_whole(expression, problem):
    assert any(problem in found for found in problems(expression))
