"""The files a run writes, named in one place.

<i>.png              the image every --save-every iterations (i counted across scales)
generated_image.jpg  the final image
preview.jpg          the final image reduced to a long side of 2048, when it is larger
losses.csv           one row per iteration: iteration, J, J_content, J_style[, J_tv], seconds
losses.png           the same costs on a log scale
progress.gif         the saved iterations as an animation (--animation gif|both)
progress.png         ... and as a contact sheet (--animation sheet|both)
checkpoint.npz       image, optimizer state and history (--checkpoint-every)
.nst-running         while a run writes into the folder: its lock, naming it (``claim``)
"""

import contextlib
import fcntl
import os
import time
from dataclasses import dataclass
from pathlib import Path

from nst.errors import NSTError

# The files above by the attribute that names them: files.final, files.losses_csv, ...
NAMES = dict(final="generated_image.jpg", preview="preview.jpg", losses_csv="losses.csv", losses_png="losses.png",
             gif="progress.gif", sheet="progress.png", checkpoint="checkpoint.npz", lock=".nst-running")  # fmt: skip


@dataclass(frozen=True)
class RunFiles:
    """The paths of one run's outputs inside ``folder``: ``files.final`` and the rest of ``NAMES``,
    and ``files.iteration_image(i)``."""

    folder: Path

    def __post_init__(self):
        object.__setattr__(self, "folder", Path(self.folder))

    def __getattr__(self, name):
        if name in NAMES:
            return self.folder / NAMES[name]
        raise AttributeError(name)

    def iteration_image(self, i):
        return self.folder / f"{i}.png"

    def is_output(self, path):
        """Whether ``path`` is a file a run in this folder would overwrite (the checkpoint aside:
        resuming from the folder's own checkpoint and then updating it is what --resume is for)."""
        path = Path(path)
        if path.resolve().parent != self.folder.resolve():
            return False
        named = {name for key, name in NAMES.items() if key not in ("checkpoint", "lock")}
        return path.name in named or (path.suffix == ".png" and path.stem.isdigit())

    @contextlib.contextmanager
    def claim(self, label):
        """Hold the folder for one run: an OS lock (flock) on ``.nst-running``, which names the run.

        A second run into the folder meanwhile gets one NSTError line naming the first. The kernel
        releases the lock when the process ends, however it ends (kill -9 too), so a killed run never
        leaves the folder locked; the file itself goes when the run ends.
        """
        path = self.lock
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 1000).decode(errors="replace").strip() or "another run"
                os.close(fd)
                raise NSTError(
                    f"{self.folder}: in use by {holder}; wait for it to end, or choose another --output-dir"
                ) from None
            if os.path.exists(path) and os.stat(path).st_ino == os.fstat(fd).st_ino:
                break
            os.close(fd)  # the run before removed the file as we opened it: take the new one
        os.ftruncate(fd, 0)
        os.write(fd, f"{label} (process {os.getpid()}, since {time.strftime('%H:%M:%S')})".encode())
        try:
            yield
        finally:
            path.unlink(missing_ok=True)  # before the lock goes, so the next run makes a fresh file
            os.close(fd)

    def clear_earlier_run(self):
        """Remove what an earlier, finished run left here (its <i>.png, losses, GIF, final image and
        checkpoint), so that none of it passes for a new run's.

        Only in a folder an nst run wrote (its losses.csv starts "iteration,J,"): files of the same
        names in any other folder are not nst's to remove. Returns how many files went.
        """
        try:
            if not self.losses_csv.read_text().startswith("iteration,J,"):
                return 0
        except (OSError, UnicodeDecodeError):
            return 0
        removed = 0
        for path in list(self.folder.iterdir()):
            if (self.is_output(path) or path.name == self.checkpoint.name) and path.is_file():
                path.unlink()
                removed += 1
        return removed
