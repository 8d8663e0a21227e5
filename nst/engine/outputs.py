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


@dataclass(frozen=True)
class RunFiles:
    """The paths of one run's outputs inside ``folder``."""

    folder: Path

    def __post_init__(self):
        object.__setattr__(self, "folder", Path(self.folder))

    def iteration_image(self, i):
        return self.folder / f"{i}.png"

    @property
    def final(self):
        return self.folder / "generated_image.jpg"

    @property
    def losses_csv(self):
        return self.folder / "losses.csv"

    @property
    def losses_png(self):
        return self.folder / "losses.png"

    @property
    def gif(self):
        return self.folder / "progress.gif"

    @property
    def sheet(self):
        return self.folder / "progress.png"

    @property
    def checkpoint(self):
        return self.folder / "checkpoint.npz"

    def is_output(self, path):
        """Whether ``path`` is a file a run in this folder would overwrite (the checkpoint aside:
        resuming from the folder's own checkpoint and then updating it is what --resume is for)."""
        path = Path(path)
        if path.resolve().parent != self.folder.resolve():
            return False
        named = {self.final.name, self.losses_csv.name, self.losses_png.name, self.gif.name, self.sheet.name}
        return path.name in named or (path.suffix == ".png" and path.stem.isdigit())
