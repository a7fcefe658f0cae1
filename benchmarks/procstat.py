"""CPU seconds and peak memory of the benchmark's processes, from /proc; the load-average gate and the
CPU-burning neighbour of `--load`.

Processes are named by role: `catalogue` (this process: catalogue and gateway), each worker child
(`downloader`, `processor`, found by their `python -m services.<name>` command line) and `postgres`
(the postmaster named in the data folder's postmaster.pid and its living backends; the CPU of backends
that ended is in the postmaster's cutime/cstime). Linux only: elsewhere the figures are empty.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import subprocess
import sys
from collections.abc import Iterator

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
MAX_QUIET_LOAD = 1.0  # 1-minute load average above which a figure is refused (unless --load)


@dataclasses.dataclass(frozen=True)
class Proc:
    cpu: float  # user + system seconds (with those of ended children, for postgres)
    peak_mib: float  # VmHWM: peak resident set size (max over the processes of a role)


def _stat(pid: int) -> tuple[int, float, float] | None:
    """(parent pid, own CPU seconds, ended children's CPU seconds)."""
    try:
        # The command name (field 2) may hold spaces: split after its closing parenthesis.
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None  # ended meanwhile
    own = (int(fields[11]) + int(fields[12])) / _TICK
    children = (int(fields[13]) + int(fields[14])) / _TICK
    return int(fields[1]), own, children


def _peak_mib(pid: int) -> float:
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _role(pid: int) -> str | None:
    try:
        argv = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    for name in ("downloader", "processor"):
        if f"services.{name}".encode() in argv:
            return name
    return None


def postmaster_pid(data_dir: pathlib.Path) -> int | None:
    try:
        return int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def snapshot(postmaster: int | None) -> dict[str, Proc]:
    """CPU so far and peak memory of every role (see the module docstring)."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in pathlib.Path("/proc").glob("[0-9]*"):
        stat = _stat(int(entry.name))
        if stat is not None:
            parents[int(entry.name)] = stat[0]
            cpu[int(entry.name)] = stat[1]
    roles: dict[str, list[int]] = {"catalogue": [os.getpid()]}
    for pid, parent in parents.items():
        if parent == os.getpid() and (role := _role(pid)):
            roles.setdefault(role, []).append(pid)
    if postmaster is not None and postmaster in parents:
        roles["postgres"] = [postmaster] + [p for p, parent in parents.items() if parent == postmaster]
    result = {}
    for role, pids in roles.items():
        total = sum(cpu.get(p, 0.0) for p in pids)
        if role == "postgres":
            stat = _stat(pids[0])
            total += stat[2] if stat else 0.0  # backends that ended and were reaped
        result[role] = Proc(total, max(_peak_mib(p) for p in pids))
    return result


def load_average() -> float:
    return os.getloadavg()[0]


@contextlib.contextmanager
def cpu_burner(enabled: bool) -> Iterator[None]:
    """`--load`: a neighbour process spinning on one core (core 0) for the whole run."""
    if not enabled:
        yield
        return
    code = "import os\ntry: os.sched_setaffinity(0, {0})\nexcept (AttributeError, OSError): pass\nwhile True: pass"
    burner = subprocess.Popen([sys.executable, "-c", code])
    try:
        yield
    finally:
        burner.kill()
        burner.wait()
