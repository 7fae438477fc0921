"""Private Redis topologies for the scale tests: a 3-master Redis Cluster and a Sentinel group.

Each is started by the test run on free ports in a temporary directory, from Debian's
redis-server and redis-cli, and removed at the end. Nothing touches the shared Redis.

- ``redis_cluster`` (one per test run): three masters made one cluster by
  ``redis-cli --cluster create``; each test gets it flushed.
- ``sentinel_group`` (one per test, since a test kills its master): a master, one replica and
  three sentinels (``redis-server --sentinel``) with a short down-after-milliseconds, so a
  killed master is replaced in a second or two.
- ``redis_backend``: parametrizes a contract test over the test run's own redis-server and the
  cluster (the cluster case is marked ``scale``), by pointing settings.REDIS_CLUSTER_URL at it.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from tests.helpers import missing_tool
from tests.processes import free_port, start_group, wait_for

# What the sentinels wait before they call a silent master down, and before they retry a failover.
DOWN_AFTER_MS = 500
FAILOVER_TIMEOUT_MS = 3000


def _binaries() -> tuple[str, str]:
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if not server or not cli:
        missing_tool("redis-server and redis-cli (Debian's redis-server and redis-tools) are not installed")
    return server, cli  # type: ignore[return-value]


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    for _ in range(200):
        port = random.randint(20000, 29999)
        if _port_free(port) and _port_free(port + 10000):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def _answers(port: int) -> bool:
    try:
        return bool(redis.Redis(port=port, socket_connect_timeout=0.2, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


@dataclass
class Node:
    """One redis-server process (a master, a replica, a cluster node or a sentinel)."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, *arguments: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        server, _ = _binaries()
        self.process = start_group(
            "redis-server", [server, *arguments], self.directory / "redis.log", cwd=self.directory
        ).popen
        wait_for(lambda: _answers(self.port) or self.process.poll() is not None, timeout=10, what="redis-server")
        assert self.process.poll() is None, (self.directory / "redis.log").read_text()[-2000:]

    def kill(self) -> None:
        """SIGKILL, as a crashed machine: nothing is flushed, nothing handed over."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=2, decode_responses=True)


def _data_node_arguments(port: int) -> list[str]:
    # Nothing on disk; a replica's full sync starts at once (Redis 7 waits 5 s for more replicas).
    return ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--repl-diskless-sync-delay", "0"]  # fmt: skip


# --- Redis Cluster ------------------------------------------------------------------------------


@dataclass
class Cluster:
    nodes: list[Node]
    root: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster(masters: int = 3) -> Cluster:
    _, cli = _binaries()
    root = Path(tempfile.mkdtemp(prefix="otpsvc-test-cluster-"))
    cluster = Cluster(nodes=[], root=root)
    try:
        for index in range(masters):
            port = cluster_port()
            node = Node(port=port, directory=root / f"node{index}")
            cluster.nodes.append(node)
            node.start(*_data_node_arguments(port), "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                       "--cluster-node-timeout", "2000")  # fmt: skip
        addresses = [f"127.0.0.1:{node.port}" for node in cluster.nodes]
        created = subprocess.run(
            [cli, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert created.returncode == 0, created.stdout + created.stderr
        wait_for(lambda: all(_cluster_ok(node) for node in cluster.nodes), timeout=30, what="the cluster to be ok")
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _cluster_ok(node: Node) -> bool:
    try:
        return "cluster_state:ok" in str(node.client().execute_command("CLUSTER", "INFO"))
    except redis.RedisError:
        return False


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[Cluster]:
    cluster = start_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture
def on_redis_cluster(redis_cluster: Cluster, settings) -> Cluster:
    """This test's state (get_redis()) lives on the run's Redis Cluster, emptied first."""
    from otpsite.redis import get_redis

    settings.REDIS_CLUSTER_URL = redis_cluster.url
    get_redis().flushdb()  # every master (redis-py sends FLUSHDB to all primaries)
    return redis_cluster


def point_at_a_closed_port(settings) -> None:
    """Point this test's state, on whichever backend it runs, at a port where nothing listens."""
    if settings.REDIS_CLUSTER_URL:
        settings.REDIS_CLUSTER_URL = "redis://127.0.0.1:1/0"
    else:
        settings.REDIS_URL = "redis://127.0.0.1:1/0"


@pytest.fixture(params=["server", pytest.param("cluster", marks=pytest.mark.scale)])
def redis_backend(request: pytest.FixtureRequest) -> str:
    """The test runs on the run's own redis-server, then on a 3-master Redis Cluster."""
    if request.param == "cluster":
        request.getfixturevalue("on_redis_cluster")
    return str(request.param)


# --- Sentinel -----------------------------------------------------------------------------------


@dataclass
class SentinelGroup:
    """A master, its replica and three sentinels watching them under ``name``."""

    name: str
    root: Path
    master: Node
    replica: Node
    sentinels: list[Node] = field(default_factory=list)

    @property
    def sentinel_hosts(self) -> str:
        return ",".join(f"127.0.0.1:{node.port}" for node in self.sentinels)

    def current_master_port(self) -> int | None:
        """The master's port as a majority of the sentinels answer it (None while they disagree)."""
        answers = []
        for node in self.sentinels:
            with contextlib.suppress(redis.RedisError):
                host_port = node.client().execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.name)
                answers.append(int(host_port[1]))
        for port in set(answers):
            if answers.count(port) >= 2:
                return port
        return None

    def replica_in_sync(self) -> bool:
        replica = self.master.client().info("replication").get("slave0") or {}
        return isinstance(replica, dict) and replica.get("state") == "online"

    def stop(self) -> None:
        for node in [*self.sentinels, self.replica, self.master]:
            node.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def start_sentinel_group(name: str = "otpsvc-test") -> SentinelGroup:
    root = Path(tempfile.mkdtemp(prefix="otpsvc-test-sentinel-"))
    group = SentinelGroup(
        name=name,
        root=root,
        master=Node(port=free_port(), directory=root / "master"),
        replica=Node(port=free_port(), directory=root / "replica"),
    )
    try:
        group.master.start(*_data_node_arguments(group.master.port))
        group.replica.start(*_data_node_arguments(group.replica.port), "--replicaof", "127.0.0.1",
                            str(group.master.port))  # fmt: skip
        wait_for(group.replica_in_sync, timeout=20, what="the replica to be in sync")
        for index in range(3):
            sentinel = Node(port=free_port(), directory=root / f"sentinel{index}")
            group.sentinels.append(sentinel)
            config = sentinel.directory / "sentinel.conf"
            sentinel.directory.mkdir(parents=True)
            config.write_text(
                f"port {sentinel.port}\nbind 127.0.0.1\ndir {sentinel.directory}\n"
                f"sentinel monitor {name} 127.0.0.1 {group.master.port} 2\n"
                f"sentinel down-after-milliseconds {name} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {name} {FAILOVER_TIMEOUT_MS}\n"
                f"sentinel parallel-syncs {name} 1\n"
            )
            sentinel.start(str(config), "--sentinel")
        wait_for(lambda: group.current_master_port() == group.master.port, timeout=20, what="the sentinels to agree")
        wait_for(lambda: _sentinels_know_each_other(group), timeout=20, what="the sentinels to find each other")
    except BaseException:
        group.stop()
        raise
    return group


def _sentinels_know_each_other(group: SentinelGroup) -> bool:
    """Each sentinel has seen the other two (a failover needs a majority to vote)."""
    try:
        for node in group.sentinels:
            master = node.client().execute_command("SENTINEL", "MASTER", group.name)
            fields = dict(zip(master[::2], master[1::2], strict=True))
            if int(fields["num-other-sentinels"]) < 2 or int(fields["num-slaves"]) < 1:
                return False
    except redis.RedisError:
        return False
    return True


@pytest.fixture
def sentinel_group() -> Iterator[SentinelGroup]:
    group = start_sentinel_group()
    yield group
    group.stop()


def failover_done(group: SentinelGroup, old_master_port: int, started: float) -> float | None:
    """Seconds since `started` once the sentinels name a new master that accepts writes."""
    port = group.current_master_port()
    if port is None or port == old_master_port:
        return None
    try:
        role = redis.Redis(port=port, socket_connect_timeout=0.3, socket_timeout=0.5).execute_command("ROLE")
    except redis.RedisError:
        return None
    return time.monotonic() - started if role[0] in (b"master", "master") else None
