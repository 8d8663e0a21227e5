"""Running code in a submission's kernel, each piece with a time limit, and what comes back, capped.

``Kernel`` starts an IPython kernel of this very interpreter, in the sandbox when there is one
(``sandbox.Sandbox``), and runs one piece of code at a time: a notebook cell, or a request of the
judge's. It says how that went (``Outcome``): ok, an error, out of time (then interrupted), or the
kernel dead; and it hands back the answers the code printed after ``compute.MARK`` and a nonce.
The kernel may print anything and as much as it likes: other lines are dropped as they come, and
an answer longer than ``MAX_ANSWER`` characters too. Kernel and judge talk over Unix sockets
(ZeroMQ's ipc transport): a sandboxed kernel has no network.

``pinned_kernel_manager`` is a kernel manager for nbclient with the same pinned interpreter.
"""

import json
import os
import queue
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from nst.errors import NSTError, one_line
from nst.teaching.compute import MARK
from nst.teaching.wire import text

MAX_ANSWER = 64 << 20  # characters of one answer line (a train step's two images at 1024x1024 fit)
START_TIMEOUT = 120  # seconds for a new kernel to answer at all
PROBE_TIMEOUT = 30  # seconds for the kernel to answer after an interrupt before it counts as hung
KERNEL_ARGV = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]


def pinned_kernel_manager(kernel_dir):
    """An AsyncKernelManager (nbclient's kind) for a kernel named 'python3' that runs exactly this interpreter.

    The kernelspec is written to ``kernel_dir``, so no other 'python3' kernelspec (user folder,
    system) can substitute an interpreter without nst and TensorFlow."""
    from jupyter_client.manager import AsyncKernelManager

    return AsyncKernelManager(kernel_name="python3", kernel_spec_manager=_specs(kernel_dir, KERNEL_ARGV))


def _specs(kernel_dir, argv):
    """A kernelspec manager that knows one kernel, 'python3', started by ``argv``."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec_dir = Path(kernel_dir) / "python3"
    spec_dir.mkdir(parents=True, exist_ok=True)
    # "message": interrupts go to the kernel over its control socket, not as a signal to the sandbox
    spec = {"argv": argv, "display_name": "Python 3 (nst grade)", "language": "python", "interrupt_mode": "message"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return KernelSpecManager(kernel_dirs=[str(kernel_dir)], ensure_native_kernel=False)


@dataclass
class Outcome:
    """How one piece of code ran."""

    status: str  # "ok", "error", "timeout" or "dead"
    error: str = ""  # "<exception>: <message>" for the last three
    answers: list = field(default_factory=list)  # the text after "MARK nonce " of each answer line


class Answers:
    """Reads the kernel's output as it streams in, keeping only the lines that start with ``prefix``."""

    def __init__(self, prefix):
        self.prefix, self.found = prefix, []
        self._reset()

    def _reset(self):
        self.head, self.line, self.length, self.skipping = "", [], 0, False

    def feed(self, chunk):
        while chunk:
            end = chunk.find("\n")
            piece, chunk = (chunk, "") if end < 0 else (chunk[:end], chunk[end + 1 :])
            if not self.skipping:
                self.head += piece[: len(self.prefix) - len(self.head)]
                self.line.append(piece)
                self.length += len(piece)
                if not self.prefix.startswith(self.head) or self.length > MAX_ANSWER:
                    self.skipping, self.line = True, []  # not an answer, or too long for one: dropped as it comes
            if end >= 0:
                if not self.skipping and self.head == self.prefix:
                    self.found.append("".join(self.line)[len(self.prefix) :])
                self._reset()


class Kernel:
    """One kernel (sandboxed when ``sandbox`` is given) running code for the judge; ``stop()`` ends it."""

    def __init__(self, folder, env, sandbox=None):
        from jupyter_client import KernelManager

        folder = Path(folder)
        ipc, connection, work = folder / "ipc", folder / "connection", folder / "work"
        for each in (ipc, connection, work):
            each.mkdir(parents=True, exist_ok=True)
        self.group, argv, launch_env = None, KERNEL_ARGV, dict(env)
        if sandbox is not None:
            from nst.teaching.grade.sandbox import inside_env

            argv, self.group = sandbox.command(KERNEL_ARGV, ipc, connection, inside_env(env))
            launch_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        self.km = KernelManager(
            kernel_name="python3",
            kernel_spec_manager=_specs(folder / "kernels", argv),
            transport="ipc",
            ip=str(ipc / "kernel"),
            connection_file=str(connection / "kernel.json"),
        )
        self.client = None
        self.log = open(folder / "kernel.log", "ab")  # the kernel's own stderr and stdout; closed in stop()
        try:
            self.km.write_connection_file()
            if sandbox is not None:
                sandbox.own(ipc, connection, connection / "kernel.json")
            self.km.start_kernel(env=launch_env, stdout=self.log, stderr=self.log, cwd=str(work))
            self.client = self.km.client()
            self.client.start_channels()
            self.client.wait_for_ready(timeout=START_TIMEOUT)
        except Exception as err:  # whatever stops a kernel from starting
            self.stop()
            raise NSTError(f"cannot start a Python kernel ({one_line(err)}); is ipykernel installed?") from None

    def alive(self):
        try:
            return self.km.is_alive()
        except Exception:
            return False

    def died(self):
        """Why the kernel is dead, in a few words."""
        if self.group is not None and self.group.out_of_memory():
            return "the kernel died: out of memory (the sandbox's limit)"
        return "the kernel died (the cell ended the Python process)"

    def run(self, source, timeout, nonce=None, history=True):
        """Execute ``source``; wait at most ``timeout`` seconds, then interrupt it. An ``Outcome``."""
        answers = Answers(f"{MARK} {nonce} ")
        msg_id = self.client.execute(source, store_history=history, allow_stdin=False, stop_on_error=False)
        deadline, error = time.monotonic() + timeout, ""
        interrupted = None
        while True:
            left = deadline - time.monotonic()
            if left <= 0 and interrupted is None:
                self._interrupt()
                interrupted, deadline = True, time.monotonic() + PROBE_TIMEOUT
                continue
            if left <= 0:  # interrupted, and still no end: the kernel hangs
                return Outcome("dead", f"did not finish within {timeout:g} s, and the kernel hung")
            try:
                message = self.client.get_iopub_msg(timeout=min(left, 1.0))
            except queue.Empty:
                if not self.alive():
                    return Outcome("dead", self.died())
                continue
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message.get("msg_type"), message.get("content", {})
            if kind == "stream" and content.get("name") == "stdout":
                answers.feed(str(content.get("text", "")))
            elif kind == "error":
                evalue = text(content.get("evalue", ""))
                error = f"{text(content.get('ename'), 80)}: {evalue}" if evalue else text(content.get("ename"), 80)
            elif kind == "status" and content.get("execution_state") == "idle":
                break
        if interrupted:
            return Outcome("timeout", f"did not finish within {timeout:g} s (an infinite loop?)", answers.found)
        return Outcome("error" if error else "ok", error, answers.found)

    def _interrupt(self):
        try:
            self.km.interrupt_kernel()
        except Exception:  # a kernel that is gone: the next poll finds it dead
            pass

    def stop(self):
        try:
            if self.client is not None:
                self.client.stop_channels()
            if self.km.has_kernel:
                self.km.shutdown_kernel(now=True)
        except Exception:  # already gone
            pass
        finally:
            if self.group is not None:
                self.group.remove()
            self.log.close()
