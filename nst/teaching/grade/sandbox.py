"""The sandbox a submission's kernel runs in: bubblewrap (``bwrap``), Linux namespaces and cgroup limits.

What a sandboxed kernel sees and may do:

- no network (a network namespace of its own: not even the judge's loopback), no other processes
  (a PID namespace of its own: it cannot see or signal the judge or other kernels), its own IPC
  and host name, a new session; it runs as user ``nobody`` with no capabilities and no way to
  gain any (bwrap builds the view as root, then ``setpriv`` drops to nobody before Python starts);
- a read-only view of the system: /usr, /etc, and the Python environment nst runs in;
- of nst, only what the notebook legitimately uses (``kernel_tree``): the settings, the weights and
  VGG19, the images, Adam, nst's faster convolutions, and ``nst.teaching.compute``, which answers
  the judge. nst's own solution is not there: ``nst.costs`` and ``nst.train`` raise an ImportError
  that says why, and ``nst.teaching.grader`` is a stand-in (``stand_in``). The repository (the
  solution notebook, the tests, its history), the judge's files and the other submissions are not in
  the view at all;
- one private writable folder, its working folder and HOME, and a /tmp: tmpfs of ``Limits.disk``
  bytes each, gone when the kernel ends;
- the limits of ``limits``: memory, processes and threads, CPU time, in a cgroup of its own.

The kernel talks to the judge over Unix sockets (ZeroMQ's ipc transport) in a folder bound into
its view, since it has no network. ``unavailable()`` says why there can be no sandbox here.
"""

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

from nst import config
from nst.teaching.compute import GUARD_WORDS
from nst.teaching.grade.limits import Cgroups, Limits, Unavailable

NOBODY = 65534  # the sandbox's user and group: nobody, nogroup
WORK = "/submission"  # the kernel's working folder and HOME, inside the sandbox
NST = Path(__file__).resolve().parent.parent.parent  # the nst package
# What a notebook legitimately imports from nst; kernel_tree copies these and what they import.
ALLOWED = (
    *("nst.config", "nst.errors", "nst.images", "nst.adam", "nst.vgg", "nst.weights", "nst.kernels", "nst.options"),
    *("nst.teaching.compute", "nst.teaching.wire"),
)
# nst's own solution of the exercise, which a graded kernel cannot import: these raise ImportError (and so
# does each module of the grader but its package, a stand-in).
GUARDED = {"nst.costs": "costs/__init__.py", "nst.train": "train.py"}
GUARD = 'raise ImportError("{module} holds {words}, which a notebook graded by nst grade cannot import: "\n'
GUARD += '                  "write the graded functions yourself")\n'


def unavailable():
    """Why submissions cannot be sandboxed on this machine (one line), or None when they can."""
    if sys.platform != "linux":
        return "the sandbox needs Linux (bubblewrap, namespaces, cgroups)"
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (Debian, Ubuntu: apt-get install bubblewrap)"
    if shutil.which("setpriv") is None:
        return "setpriv is not installed (Debian, Ubuntu: apt-get install util-linux)"
    try:
        Cgroups.find()
    except Unavailable as err:
        return str(err)
    probe = ["bwrap", "--unshare-net", "--unshare-pid", "--ro-bind", "/", "/", "--", "true"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"bwrap does not run here ({err})"
    if done.returncode != 0:
        return f"bwrap cannot make namespaces here ({' '.join(done.stderr.split())[:200]})"
    return None


def _module_file(name):
    """The source file of nst module ``name`` (a package's __init__.py), or None."""
    path = NST.parent.joinpath(*name.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return path.with_suffix(".py") if path.with_suffix(".py").is_file() else None


def _imports(path):
    """The nst modules a source file imports, anywhere in it (imports inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "nst"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "nst":
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if _module_file(f"{node.module}.{a.name}")}
    return found


def kernel_modules():
    """The nst modules a graded kernel gets: ALLOWED, their packages, and all they import."""
    todo, modules = ["nst", *ALLOWED], set()
    while todo:
        name = todo.pop()
        if name in modules:
            continue
        modules.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # its packages
        path = _module_file(name)
        if path is None:
            raise FileNotFoundError(f"no source for {name}")
        todo += sorted(_imports(path))
    return modules


def kernel_tree(dest):
    """Write the graded kernel's copy of the nst package to ``dest``: kernel_modules, the guards, the stand-in."""
    dest = Path(dest)
    solution = [m for m in kernel_modules() if m in GUARDED or m.startswith("nst.teaching.grader")]
    if solution:  # a module of the allowed ones now imports nst's solution: the view must not have it
        raise RuntimeError(f"the graded kernel's nst would hold {', '.join(sorted(solution))}")
    for name in kernel_modules():
        source = _module_file(name)
        target = dest / source.relative_to(NST)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    grader = NST / "teaching" / "grader"  # its modules hold the right answers: guarded too
    guarded = {**GUARDED, **{f"nst.teaching.grader.{p.stem}": f"teaching/grader/{p.name}" for p in grader.glob("*.py")}}
    for module, file in guarded.items():
        (dest / file).parent.mkdir(parents=True, exist_ok=True)
        (dest / file).write_text(GUARD.format(module=module, words=GUARD_WORDS))
    shutil.copyfile(Path(__file__).with_name("stand_in.py"), dest / "teaching" / "grader" / "__init__.py")
    for path in [dest, *dest.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return dest


def _outside(path, *folders):
    return not any(Path(path).is_relative_to(folder) for folder in folders)


class Sandbox:
    """What one ``nst grade`` needs to sandbox its kernels: their view of nst (made once) and the limits."""

    def __init__(self, folder, limits=None):
        self.limits = limits or Limits()
        self.cgroups = Cgroups.find()
        self.tree = kernel_tree(Path(folder) / "nst")

    def binds(self):
        """(source, destination) of the read-only view: the Python environment, nst's copy, images, weights."""
        views = []
        for prefix in sorted({sys.base_prefix, sys.prefix, sys.base_exec_prefix, sys.exec_prefix}):
            if _outside(prefix, "/usr"):
                views.append((prefix, prefix))
        views.append((self.tree, NST))
        for folder in (config.IMAGES_DIR, config.PRETRAINED_DIR):
            if Path(folder).is_dir():
                views.append((folder, folder))
        return views

    def command(self, kernel_argv, ipc, connection, env):
        """The argv that starts ``kernel_argv`` in a new sandbox, and the ``limits.Group`` it runs in.

        ``ipc`` is the folder of the kernel's sockets (writable by it), ``connection`` the folder of
        its connection file; ``env`` the environment inside (nothing else of the judge's gets in).
        """
        args = ["bwrap", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        args += ["--die-with-parent", "--new-session", "--hostname", "nst-grade", "--clearenv"]
        for key, value in env.items():
            args += ["--setenv", key, str(value)]
        args += ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc", "--proc", "/proc", "--dev", "/dev"]
        for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            path = Path("/") / name
            if path.is_symlink():
                args += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                args += ["--ro-bind", str(path), str(path)]
        for folder in ("/tmp", WORK):
            args += ["--perms", "1777", "--size", str(self.limits.disk), "--tmpfs", folder]
        made = {"/", "/tmp", WORK}
        for source, destination in [*self.binds(), (ipc, ipc), (connection, connection)]:
            for parent in reversed(Path(destination).parents):  # parents a nobody can walk through
                if str(parent) not in made and _outside(parent, "/usr", "/etc"):
                    args += ["--perms", "0755", "--dir", str(parent)]
                    made.add(str(parent))
            writable = destination == ipc
            args += ["--bind" if writable else "--ro-bind", str(source), str(destination)]
        args += ["--chdir", WORK, "--"]
        drop = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--no-new-privs"]
        drop += ["--inh-caps=-all", "--bounding-set=-all"]
        group = self.cgroups.make(self.limits)
        return group.command(args + drop + list(kernel_argv), self.limits.cpu_seconds), group

    def own(self, *paths):
        """Give the sandbox's user ``paths`` (its socket folder, its connection file)."""
        for path in paths:
            os.chown(path, NOBODY, NOBODY)


def inside_env(grading_env):
    """The environment of a sandboxed kernel: a plain PATH and HOME, and the grading's NST_ settings."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": WORK,
        "LANG": "C.UTF-8",
        "IPYTHONDIR": "/tmp/ipython",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "MPLBACKEND": "Agg",
    }
    env.update({key: value for key, value in grading_env.items() if key.startswith("NST_")})
    env["NST_OUTPUT_DIR"] = f"{WORK}/output"
    return env
