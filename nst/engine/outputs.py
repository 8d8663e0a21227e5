"""The files a run writes, named in one place.

<i>.png              the image every --save-every iterations (i counted across scales)
generated_image.jpg  the final image
losses.csv           one row per iteration: iteration, J, J_content, J_style[, J_tv], seconds
losses.png           the same costs on a log scale
progress.gif         the saved iterations as an animation (--animation gif|both)
progress.png         ... and as a contact sheet (--animation sheet|both)
checkpoint.npz       image, optimizer state and history (--checkpoint-every)
"""

from dataclasses import dataclass
from pathlib import Path

# The files above by the attribute that names them: files.final, files.losses_csv, ...
NAMES = dict(final="generated_image.jpg", losses_csv="losses.csv", losses_png="losses.png",
             gif="progress.gif", sheet="progress.png", checkpoint="checkpoint.npz")  # fmt: skip


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
        named = {name for key, name in NAMES.items() if key != "checkpoint"}
        return path.name in named or (path.suffix == ".png" and path.stem.isdigit())
