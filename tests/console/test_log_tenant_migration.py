"""messaging 0009: rows written before the tenant_id column get it from their metadata."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("messaging", "0007_attempt_latest_fault_code_index")]


def latest_messaging_migration() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return [key for key in executor.loader.graph.leaf_nodes() if key[0] == "messaging"]


def migrate(targets: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def test_old_rows_get_the_tenant_named_in_their_metadata():
    latest = latest_messaging_migration()
    migrate(BEFORE)
    try:
        with connection.cursor() as cursor:
            for recipient, metadata in [
                ("a@example.com", {"tenant_id": "acme", "kind": "otp"}),
                ("none@example.com", {"kind": "otp"}),
                ("odd@example.com", {"tenant_id": 7}),
            ]:
                cursor.execute(
                    "INSERT INTO communication_logs (message_id, recipient, channel, purpose, status, provider_used,"
                    " provider_message_id, error_message, metadata, created_at)"
                    " VALUES (gen_random_uuid(), %s, 'email', '', 'queued', '', '', '', %s, now())",
                    [recipient, json.dumps(metadata)],
                )
    finally:
        migrate(latest)

    with connection.cursor() as cursor:
        cursor.execute("SELECT recipient, tenant_id FROM communication_logs ORDER BY recipient")
        assert cursor.fetchall() == [("a@example.com", "acme"), ("none@example.com", ""), ("odd@example.com", "")]
