"""The judge's line to a submission's kernel: requests sent as cells, replies read back as data.

``Remote(kernel, name, seconds)`` is the computer a check of ``nst.teaching.grader`` is given
under ``nst grade``: each ``ask(call)`` sends one request as a cell that runs
``nst.teaching.compute.answer`` in the kernel, and reads the reply from the answer line printed
after a fresh nonce. The reply is data, and the check believes none of it: it compares what the
function returned with its own right answers. All the calls of one function's check share one
time limit; when it runs out (an infinite loop) or the kernel dies, ``Stopped`` ends the check.

``ask_kernel`` sends a request outside any check (which functions are defined; which function a
cell that ran out of time was running).
"""

import json
import secrets
import time

PROBE_TIMEOUT = 30  # seconds for the kernel's own questions (which functions exist, which one hung)


def request_cell(calls, nonce):
    """The source of the cell that asks the kernel ``calls`` (the replies come back after MARK and ``nonce``)."""
    return (
        f"import nst.teaching.compute as _nst_compute\n_nst_compute.answer(globals(), {json.dumps(calls)!r}, {nonce!r})"
    )


def replies(outcome, count):
    """The ``count`` replies of an Outcome's last answer line, or None when there is no such line."""
    try:
        found = json.loads(outcome.answers[-1])
    except (IndexError, ValueError):
        return None
    return found if isinstance(found, list) and len(found) == count else None


def ask_kernel(kernel, call, seconds=PROBE_TIMEOUT):
    """One call answered by ``kernel``: (its reply or None, the Outcome of the cell)."""
    nonce = secrets.token_hex(8)
    outcome = kernel.run(request_cell([call], nonce), seconds, nonce, history=False)
    found = replies(outcome, 1) if outcome.status == "ok" else None
    return (found[0] if found else None), outcome


class Remote:
    """A computer that is the submission's kernel, for the check of the graded function ``name``."""

    def __init__(self, kernel, name, seconds):
        self.kernel, self.name, self.seconds = kernel, name, seconds
        self.deadline = time.monotonic() + seconds
        self.hung = self.dead = False

    def ask(self, call):
        from nst.teaching.grader.results import Stopped  # here: the grader loads TensorFlow, --help need not

        left = self.deadline - time.monotonic()
        if left <= 0:
            self.hung = True
            raise Stopped(f"its check did not finish within {self.seconds:g} s (an infinite loop?)", "timeout")
        reply, outcome = ask_kernel(self.kernel, call, left)
        if outcome.status == "timeout":
            self.hung = True
            raise Stopped(f"its check did not finish within {self.seconds:g} s (an infinite loop?)", "timeout")
        if outcome.status == "dead":
            self.dead = True
            raise Stopped(
                f"{self.kernel.died()} while checking it (the function ended the Python process?)", "kernel-died"
            )
        if reply is None:  # the cell failed, or printed no answer: the kernel's nst or its output was tampered with
            return {"failed": {"type": "NoAnswer", "text": outcome.error or "the kernel printed no answer"}}
        return reply
