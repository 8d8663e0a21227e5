"""Limits on a graded kernel: its memory, its processes and its CPU time, through Linux control groups.

Each sandboxed kernel gets a cgroup of its own, made here before it starts and removed after:

- memory: ``memory.max`` (cgroup v2) or ``memory.limit_in_bytes`` (v1), swap included where the
  kernel accounts for it; past it the kernel's own OOM killer ends the kernel, nothing else;
- processes and threads: ``pids.max`` (a fork bomb meets "Resource temporarily unavailable");
- CPU time: ``ulimit -t`` (RLIMIT_CPU) in the shell that starts the sandbox.

Why these and not others: RLIMIT_AS would break TensorFlow's allocator, which reserves far more
address space than it uses, and RLIMIT_NPROC is not enforced for root; cgroup limits hold for
both. Making cgroups needs root (or a delegated cgroup): ``Cgroups.find()`` says why it cannot.
When the kernel ends, every process left in its cgroup is killed and the cgroup removed.
"""

import os
import secrets
import shlex
import signal
import time
from dataclasses import dataclass
from pathlib import Path

MOUNTS = Path("/proc/self/mounts")
OWN = Path("/proc/self/cgroup")


@dataclass(frozen=True)
class Limits:
    """What one graded kernel may use."""

    memory: int = 4 << 30  # bytes, its page cache and its private folder's tmpfs included
    processes: int = 512  # processes and threads (TensorFlow starts a few dozen threads)
    cpu_seconds: int = 1800  # of CPU time, all its threads together
    disk: int = 256 << 20  # bytes in its private folder (a tmpfs), and again in its /tmp


class Unavailable(Exception):
    """Why no cgroup limits can be made here."""


def _mounts():
    """(mount point, file system type, options) of every mounted cgroup file system."""
    found = []
    for line in MOUNTS.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] in ("cgroup", "cgroup2"):
            found.append((Path(parts[1]), parts[2], set(parts[3].split(","))))
    return found


def _own(controller):
    """This process's cgroup path in the v1 hierarchy of ``controller`` (or v2's, controller "")."""
    for line in OWN.read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if (controller == "" and controllers == "") or controller in controllers.split(","):
            return path.lstrip("/")
    return None


class Cgroups:
    """Where this machine's cgroups for graded kernels are made: ``parents`` holds one folder per hierarchy."""

    def __init__(self, version, parents):
        self.version, self.parents = version, parents

    @classmethod
    def find(cls):
        """The cgroups to use: v2 if its memory and pids controllers are there, else v1's; Unavailable if none."""
        if os.geteuid() != 0:
            raise Unavailable("cgroup limits need root (run nst grade as root, e.g. in a container or VM)")
        mounts = _mounts()
        for point, kind, _ in mounts:
            controllers = (point / "cgroup.controllers").read_text().split() if kind == "cgroup2" else []
            if {"memory", "pids"} <= set(controllers):
                return cls._v2(point)
        v1 = {}
        for point, kind, options in mounts:
            for controller in ("memory", "pids"):
                if kind == "cgroup" and controller in options:
                    v1[controller] = point / (_own(controller) or "")
        if set(v1) == {"memory", "pids"}:
            return cls("v1", [v1["memory"], v1["pids"]])
        raise Unavailable("no memory and pids cgroup controllers are mounted (see /proc/self/mounts)")

    @classmethod
    def _v2(cls, root):
        parent = root / "nst-grade"
        try:
            parent.mkdir(exist_ok=True)
            for folder in (root, parent):  # let children of nst-grade have memory and pids limits
                (folder / "cgroup.subtree_control").write_text("+memory +pids")
        except OSError as err:
            raise Unavailable(f"cannot make a cgroup under {root} ({err.strerror})") from None
        return cls("v2", [parent])

    def make(self, limits):
        """A new cgroup (one per hierarchy) holding ``limits``; a ``Group``."""
        name = f"nst-grade-{secrets.token_hex(6)}"
        folders = [parent / name for parent in self.parents]
        group = Group(self.version, folders)
        try:
            for folder in folders:
                folder.mkdir()
            if self.version == "v2":
                _write(folders[0] / "memory.max", limits.memory)
                _write(folders[0] / "memory.swap.max", 0, optional=True)
                _write(folders[0] / "pids.max", limits.processes)
            else:
                _write(folders[0] / "memory.limit_in_bytes", limits.memory)
                _write(folders[0] / "memory.memsw.limit_in_bytes", limits.memory, optional=True)
                _write(folders[1] / "pids.max", limits.processes)
        except OSError as err:
            group.remove()
            raise Unavailable(f"cannot make a cgroup ({err.strerror}: {err.filename})") from None
        return group


def _write(path, value, optional=False):
    try:
        path.write_text(f"{value}\n")
    except OSError:
        if not optional:  # swap accounting may be off: then there is no swap to limit
            raise


class Group:
    """One kernel's cgroup: ``command`` starts a program in it; ``remove`` kills what is left and deletes it."""

    def __init__(self, version, folders):
        self.version, self.folders = version, folders

    def command(self, argv, cpu_seconds):
        """``argv`` started by a shell that first moves itself into this cgroup and sets RLIMIT_CPU."""
        moves = " && ".join(f"echo $$ > {shlex.quote(str(folder / 'cgroup.procs'))}" for folder in self.folders)
        return ["/bin/sh", "-c", f'{moves} && ulimit -t {int(cpu_seconds)} && exec "$@"', "nst-sandbox", *argv]

    def out_of_memory(self):
        """Whether the kernel's OOM killer has killed something in this cgroup."""
        events = "memory.events" if self.version == "v2" else "memory.oom_control"
        try:
            lines = (self.folders[0] / events).read_text().splitlines()
        except OSError:
            return False
        return any(line.split()[:1] == ["oom_kill"] and int(line.split()[1]) > 0 for line in lines)

    def processes(self):
        pids = set()
        for folder in self.folders:
            try:
                pids |= {int(pid) for pid in (folder / "cgroup.procs").read_text().split()}
            except OSError:
                pass
        return pids

    def remove(self):
        """Kill every process still in the cgroup, then delete it."""
        for _ in range(100):
            pids = self.processes()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        for folder in self.folders:
            for _ in range(40):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # the last processes are still exiting
                    time.sleep(0.05)
