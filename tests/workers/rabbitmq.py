"""A RabbitMQ vhost of the test's own on the local server (127.0.0.1:5672, guest/guest), deleted after."""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator

from tests.helpers import missing_tool


def rabbitmqctl(*arguments: str) -> str:
    result = subprocess.run(["rabbitmqctl", "-q", *arguments], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(arguments)}: {result.stderr.strip()[:300]}")
    return result.stdout


def queues(vhost: str) -> dict[str, dict[str, str]]:
    """name -> {type, messages, arguments} of every queue in the vhost."""
    out = rabbitmqctl("list_queues", "-p", vhost, "--no-table-headers", "name", "type", "messages", "arguments")
    rows = [line.split("\t") for line in out.splitlines() if line.strip()]
    return {row[0]: {"type": row[1], "messages": row[2], "arguments": row[3]} for row in rows if len(row) >= 4}


def private_vhost() -> Iterator[str]:
    """For a fixture: `yield from private_vhost()` gives the vhost's name and deletes it afterwards."""
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=1).close()
    except OSError:
        missing_tool("RabbitMQ is not answering on 127.0.0.1:5672")
    vhost = f"otpsvc-test-{os.environ.get('OTPSVC_TEST_RUN_ID', 'run')}-{uuid.uuid4().hex[:8]}"
    try:
        rabbitmqctl("add_vhost", vhost)
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    except (RuntimeError, FileNotFoundError) as err:
        missing_tool(f"cannot make a RabbitMQ vhost of this test's own: {err}")
    yield vhost
    rabbitmqctl("delete_vhost", vhost)


def amqp_url(vhost: str) -> str:
    return f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
