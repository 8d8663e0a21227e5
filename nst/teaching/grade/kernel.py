"""Running a notebook's cells in a kernel of this interpreter, each with a time limit.

``Kernel`` runs one cell at a time and says how it went (``Outcome``): ok, an error, out of time
(then interrupted), or the kernel dead. ``pinned_kernel_manager`` makes sure the kernel is this
very interpreter, the one with nst and TensorFlow.
"""

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from jupyter_core.utils import run_sync

from nst.errors import NSTError, one_line

TIMEOUT_ENAME = "CellTimeout"  # the error a cell that ran out of time reports


def pinned_kernel_manager(kernel_dir):
    """An AsyncKernelManager for a kernel named 'python3' that runs exactly this interpreter.

    (Async, as nbclient's own: with a blocking KernelManager, interrupting a cell that ran out of
    time from inside nbclient's event loop never returned.)

    The kernelspec is written to ``kernel_dir``, so no other 'python3' kernelspec (user folder,
    system) can substitute an interpreter without nst and TensorFlow."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    spec_dir = Path(kernel_dir) / "python3"
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (nst grade)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(kernel_dir)], ensure_native_kernel=False)
    return AsyncKernelManager(kernel_name="python3", kernel_spec_manager=specs)


@dataclass
class Outcome:
    """How one cell's run went."""

    status: str  # "ok", "error", "timeout" or "dead"
    error: str = ""  # "<exception>: <message>" for the last three


class Kernel:
    """One kernel running a notebook's cells, each with a time limit; ``stop()`` ends it."""

    def __init__(self, nb, folder, env, timeout):
        from nbclient import NotebookClient

        (folder / "work").mkdir(parents=True, exist_ok=True)  # again: a cell may have deleted it
        self.km = pinned_kernel_manager(folder / "kernels")
        self.client = NotebookClient(
            nb,
            km=self.km,
            timeout=timeout,
            allow_errors=True,
            interrupt_on_timeout=True,
            # Don't wait for the interrupted cell's reply: a hung kernel would never send it.
            error_on_timeout={"ename": TIMEOUT_ENAME, "evalue": f"still running after {timeout} s", "traceback": []},
            resources={"metadata": {"path": str(folder / "work")}},
            on_cell_executed=self._keep_reply,
        )
        self.reply = None
        # The kernel's own stderr (its start-up notices, C-level output) goes to a file, not the table.
        self.log = open(folder / "kernel.log", "ab")  # closed in stop()
        try:
            self.client.start_new_kernel(env=env, stderr=self.log)
            self.client.start_new_kernel_client()
        except Exception as err:  # whatever stops a kernel from starting
            self.stop()
            raise NSTError(f"cannot start a Python kernel ({one_line(err)}); is ipykernel installed?") from None

    def _keep_reply(self, cell, cell_index, execute_reply):
        self.reply = execute_reply

    def run(self, cell, index, timeout):
        """Execute one cell; its outputs land in ``cell.outputs``."""
        from nbclient.exceptions import DeadKernelError

        self.client.timeout = timeout
        self.reply = None
        try:
            self.client.execute_cell(cell, index)
        except DeadKernelError:
            return Outcome("dead", "the kernel died (the cell ended the Python process)")
        if not run_sync(self.km.is_alive)():
            return Outcome("dead", "the kernel died (the cell ended the Python process)")
        content = (self.reply or {}).get("content", {})
        if content.get("status") != "error":
            return Outcome("ok")
        if content.get("ename") == TIMEOUT_ENAME:
            return Outcome("timeout", f"did not finish within {timeout:g} s (an infinite loop?)")
        evalue = " ".join(str(content.get("evalue", "")).split())
        return Outcome("error", f"{content.get('ename')}: {evalue}" if evalue else str(content.get("ename")))

    def stop(self):
        try:
            if self.client.kc is not None:
                self.client.kc.stop_channels()
            if self.km.has_kernel:
                run_sync(self.km.shutdown_kernel)(now=True)
        except Exception:  # already gone
            pass
        self.log.close()
