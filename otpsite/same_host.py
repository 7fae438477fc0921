"""Whether a claim's owner process is certainly dead, asked of the kernel when it ran beside us.

A worker's owner id (otpsite/liveness.py) is ``host:pid:start:space:uuid``: its hostname, its pid,
its start time (clock ticks after boot, field 22 of /proc/<pid>/stat) and the id of the machine
and namespaces it ran in (``space``, a digest of /proc/sys/kernel/random/boot_id and the inodes of
its pid and time namespaces). When a taker has the same hostname and the same space, the owner's
pid is a pid of the taker's own namespace, so the kernel says at once whether it still runs:

- no such pid (os.kill(pid, 0) finds none): dead;
- the pid is taken by a process that started at another time (the pid was reused), or by a zombie
  (killed, not yet reaped): dead;
- anything else, including a pid we may not see (/proc mounted with hidepid): not known here, so
  the liveness key decides, as for an owner on another host.

Hostname and space together, because neither alone names a pid namespace: containers on one machine
share its boot id and may share a hostname; two machines may share a hostname. Live namespaces
never share an inode, and one that died took all its processes with it. The time namespace is in
the space because /proc shows a start time shifted by the reader's time namespace.

This only ever answers "dead" sooner: a live pid is not proof of a working owner (a hung process
is left to its liveness key and its lease), and on any doubt the answer is "not known".
"""

from __future__ import annotations

import functools
import hashlib
import os
import socket
from dataclasses import dataclass

HOST_LENGTH = 64  # Linux's HOST_NAME_MAX
PID_LIMIT = 1 << 22  # Linux's PID_MAX_LIMIT on 64-bit


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    start: int
    space: str


def hostname() -> str:
    return socket.gethostname()[:HOST_LENGTH]


def stat(pid: int | str) -> tuple[str, int] | None:
    """(state, start time in clock ticks after boot) of `pid` from /proc, or None if unreadable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            raw = file.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()  # after "pid (comm) ": the comm may hold spaces
    try:
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None


def _namespace(name: str) -> str:
    try:
        found = os.stat(f"/proc/self/ns/{name}")
    except OSError:
        return "-"  # a kernel without this namespace: every process here shares that
    return f"{found.st_dev}.{found.st_ino}"


@functools.cache
def _space_of(pid: int) -> str:
    """The space of process `pid` (this one), or "" when /proc is not this process's own."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as file:
            boot_id = file.read().strip()
        with open("/proc/self/stat") as file:
            seen_as = int(file.read().split(" ", 1)[0])
    except (OSError, ValueError):
        return ""
    if seen_as != pid or not boot_id:  # /proc belongs to another pid namespace: its pids are not ours
        return ""
    digest = hashlib.sha256(f"{boot_id}:{_namespace('pid')}:{_namespace('time')}".encode())
    return digest.hexdigest()[:16]


def space() -> str:
    """This process's machine and namespaces, or "" if they cannot be told (then no owner of ours is
    judged by this module, and we judge no one)."""
    return _space_of(os.getpid())


def this_process() -> tuple[str, str]:
    """(start, space) for this process's owner id; ("-", "-") when they cannot be told."""
    found, here = stat("self"), space()
    if found is None or not here:
        return "-", "-"
    return str(found[1]), here


def parse(owner: str) -> Owner | None:
    """The owner id's parts, or None for an id without them (another format, or "-" fields)."""
    parts = owner.rsplit(":", 4)
    if len(parts) != 5 or not (parts[1].isdigit() and parts[2].isdigit()) or parts[3] in ("", "-"):
        return None
    return Owner(host=parts[0], pid=int(parts[1]), start=int(parts[2]), space=parts[3])


def certainly_dead(owner_id: str) -> bool:
    """True only when `owner_id` ran in this very namespace and its process is gone (see above)."""
    owner, here = parse(owner_id), space()
    if owner is None or not here or owner.space != here or owner.host != hostname():
        return False
    if not 0 < owner.pid < PID_LIMIT:
        return False
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it exists, another user's
    except OSError:
        return False
    found = stat(owner.pid)
    if found is None:
        return False  # hidden from us, or gone this instant: the next look tells
    state, started = found
    return started != owner.start or state in ("Z", "X")
