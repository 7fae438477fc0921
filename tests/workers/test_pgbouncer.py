"""PostgreSQL through PgBouncer in transaction mode: send, deliver (a real worker) and verify.

A private pgbouncer (Debian's, on a free port, run as the postgres user: it refuses root) pools
transactions onto a few server connections of the stack's PostgreSQL; web, worker and beat reach
the database only through it, with DATABASE_PREPARED_STATEMENTS=0 (PgBouncer before 1.21 cannot
carry a prepared statement from one transaction to the next server connection).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.helpers import missing_tool, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.scale]

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


class PrivatePgBouncer:
    def __init__(self, *, server_port: int) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="otpsvc-pgbouncer-"))
        shutil.chown(self.root, user="postgres")
        self.port = free_port()
        (self.root / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={server_port} user=postgres\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            f"unix_socket_dir = {self.root}\n"
            "auth_type = any\n"
            "admin_users = postgres\n"
            "pool_mode = transaction\n"
            # Fewer server connections than clients: consecutive transactions of one client land on
            # different server connections, which is what breaks session state.
            "default_pool_size = 3\n"
            "max_client_conn = 300\n"
            f"logfile = {self.root / 'pgbouncer.log'}\n"
            f"pidfile = {self.root / 'pgbouncer.pid'}\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["runuser", "-u", "postgres", "--", PGBOUNCER, str(self.root / "pgbouncer.ini")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: self.show("VERSION") or self.process.poll() is not None, timeout=30, what="pgbouncer")
        assert self.process.poll() is None, self.log()

    def show(self, what: str) -> str:
        """The admin console's SHOW <what>, as psql prints it unaligned ('' while it does not answer)."""
        result = subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                "pgbouncer",
                "-At",
                "-c",
                f"SHOW {what}",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return result.stdout if result.returncode == 0 else ""

    def log(self) -> str:
        path = self.root / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def pgbouncer(chaos_postgres) -> Iterator[PrivatePgBouncer]:
    if not Path(PGBOUNCER).exists() or shutil.which("psql") is None:
        missing_tool("pgbouncer or psql is not installed (scripts/ensure-test-tools.sh installs pgbouncer)")
    bouncer = PrivatePgBouncer(server_port=chaos_postgres.port)
    try:
        bouncer.start()
        yield bouncer
    finally:
        bouncer.stop()


def transactions_through(bouncer: PrivatePgBouncer, database: str) -> int:
    """Transactions PgBouncer has passed on to `database` (SHOW STATS' total_xact_count)."""
    for line in bouncer.show("STATS").splitlines():
        fields = line.split("|")
        if fields[0] == database:
            return int(fields[1])
    return 0


def test_send_deliver_and_verify_through_pgbouncer_in_transaction_mode(chaos_stack, pgbouncer):
    stack = chaos_stack
    stack.env.update(DATABASE_URL=pgbouncer.url(stack.database), DATABASE_PREPARED_STATEMENTS="0")
    stack.start_web()
    stack.start_beat()
    worker = stack.start_worker(CELERY_WORKER_CONCURRENCY="8")
    recipients = [f"bounced{i}@example.com" for i in range(12)]

    assert [stack.send(to) for to in recipients] == [202] * 12
    wait_for(lambda: set(stack.sink.per_recipient) == set(recipients), timeout=60, what="every code to arrive")
    codes = stack.sink.codes_by_recipient()
    assert [stack.verify(to, codes[to]) for to in recipients] == [200] * 12
    assert stack.sink.per_recipient == dict.fromkeys(recipients, 1)
    assert wait_for(lambda: stack.log_statuses() == {"sent": 12}, timeout=30, what="every log row sent")

    # Every part went through the pooler, and no statement failed on a server connection it did not prepare.
    assert transactions_through(pgbouncer, stack.database) > 12 * 3  # a send, a claim, a settle, a verify each
    assert "prepared statement" not in worker.output()
    assert "server_login_retry" not in pgbouncer.log()
