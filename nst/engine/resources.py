"""What a run may take: memory (each scale whole or in tiles) and disk (checked before it starts).

``choose_tile(height, width, options)`` decides how one scale is optimised: whole (None), as the
exercise does, or in tiles of N pixels (``nst.kernels.tiles``: the same J and gradient, a
fraction of the memory, more time). ``--tile N`` decides by itself; otherwise a scale goes into
tiles when its estimated peak would pass ``--max-memory`` (default: half of this machine's RAM),
in the largest tiles (up to ``TILE``) whose estimate fits.

The estimates are linear in the pixels: a whole scale holds VGG19's activations for the backward
pass, TensorFlow's temporaries and SciPy's L-BFGS-B workspace (WHOLE_PER_MP from the 2048 px run's
8.82 GiB peak with F(6x6) on, its 984x2080 canvas, ``/usr/bin/time -v``, docs/high-resolution.md); a
tiled scale one tile's activations, plus per pixel the image, its gradient, the optimiser's vectors
and the content target (TILE_PER_MP and STATE_PER_MP: fitted to two tiled scales measured alone,
952x2048 in 512 px tiles at 2.76 GiB and 1904x4096 in 1024 px tiles at 6.00 GiB, then rounded up by
about 5 %).

``check_disk(folder, needed)`` refuses a run that would fill the disk half way; ``disk_needed``
estimates what a run writes (its saved iterations, final image, preview and checkpoint).
"""

import os
import shutil

from nst.errors import NSTError
from nst.kernels.tiles import MARGIN

GiB = 2**30
TILE = 1024  # the largest tile: larger ones save little margin (1184² per 1024²) for much memory
TILE_SIDES = (1024, 768, 512, 384, 256)  # tried from the largest when the budget is tight

# Estimated peak resident memory in GiB: BASE (TensorFlow, the weights, Winograd's transforms) plus
# per megapixel of the scale: WHOLE_PER_MP untiled; tiled, TILE_PER_MP per megapixel of one padded
# tile and STATE_PER_MP of the image for what is kept whole (image, gradient, the float32 L-BFGS's
# 2m + 7 vectors or Adam's moments, the content target).
BASE = 1.5
WHOLE_PER_MP = 3.7  # (8.82 - 1.5) / 2.05 MP: 3.58, rounded up
TILE_PER_MP = 2.2  # fitted: 2.1
STATE_PER_MP = 0.27  # fitted: 0.25


def default_budget():
    """Half of this machine's physical memory, in GiB."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GiB / 2
    except (ValueError, OSError):  # no sysconf: a modest machine
        return 8.0


def whole_pool(height, width):
    """Estimated GiB TensorFlow takes for a scale's activations and temporaries, optimised whole."""
    return WHOLE_PER_MP * height * width / 1e6


def tile_pool(height, width, tile):
    """Estimated GiB TensorFlow takes for one padded tile's activations and temporaries."""
    padded = (min(height, tile + 2 * MARGIN) * min(width, tile + 2 * MARGIN)) / 1e6
    return TILE_PER_MP * padded


def whole_peak(height, width):
    """Estimated peak GiB of a scale optimised whole."""
    return BASE + whole_pool(height, width)


def tiled_peak(height, width, tile):
    """Estimated peak GiB of a scale optimised in tiles of ``tile`` pixels (with their margins)."""
    return BASE + tile_pool(height, width, tile) + STATE_PER_MP * height * width / 1e6


def choose_tile(height, width, options, largest=None):
    """None (the whole image at once) or the tile side for a scale of height x width.

    --tile N: tiles of N wherever the image is larger than one tile (0: never). Otherwise
    tiles only when the whole image would pass --max-memory; NSTError if even the smallest
    tiles would. ``largest`` -- the (height, width) of the run's largest scale, when this one
    is coarser. When the largest scale goes into tiles, a coarser one may take for its
    activations (whole, else in tiles) no more than the largest scale's tiles do: what
    oneDNN's allocator took for one scale it keeps for the rest of the run, and the largest
    scale's image-sized state (L-BFGS's vectors, the content target) comes on top of it. At
    8192 px the 952x2048 scale, whole, left ~7 GiB behind under the 3808x8192 scale's 5-8 GiB
    of state: 13.8 GiB at that scale's start (docs/high-resolution.md).
    """
    if options.tile is not None:
        return options.tile if options.tile and max(height, width) > options.tile else None
    if largest is not None and height * width < largest[0] * largest[1]:
        top = choose_tile(*largest, options)
        if top is not None:
            limit = tile_pool(*largest, top)
            if whole_pool(height, width) <= limit:
                return None
            return next(tile for tile in TILE_SIDES if tile_pool(height, width, tile) <= limit)
    budget = options.max_memory or default_budget()
    if whole_peak(height, width) <= budget:
        return None
    for tile in TILE_SIDES:
        if tiled_peak(height, width, tile) <= budget:
            return tile
    least = tiled_peak(height, width, TILE_SIDES[-1])
    raise NSTError(
        f"--max-memory {budget:.3g}: a {width}x{height} scale needs about {least:.1f} GiB even in tiles; "
        "raise --max-memory or lower --size"
    )


def tile_reason(options, largest):
    """Why ``choose_tile`` put a scale into tiles, for the progress line; ``largest``: it is the run's largest."""
    if options.tile:
        return "--tile"
    if not largest:
        return "the largest scale is in tiles, and TensorFlow would keep this one's whole activations"
    return "the whole image would pass --max-memory"


def disk_needed(sizes, options):
    """Bytes a run writes at most: PNGs of its saved iterations, the final JPEG and a checkpoint.

    sizes -- the scales' (height, width), coarse to fine. About 3 bytes per pixel for a PNG of a
    painted picture, 1 for the JPEG, 12 for the checkpoint's float32 image (36 with Adam's moments).
    """
    saved = 0
    for number, (h, w) in enumerate(sizes):
        first = number * options.iterations
        iterations = range(first, first + options.iterations)
        saved += 3 * h * w * sum(1 for i in iterations if i % options.save_every == 0)
    h, w = sizes[-1]
    checkpoint = (36 if options.optimizer == "adam" else 12) * h * w if options.checkpoint_every else 0
    return saved + h * w + checkpoint


def check_disk(folder, needed):
    """NSTError when ``folder``'s disk has less than twice ``needed`` bytes free (outputs are written
    beside the old ones before replacing them)."""
    free = shutil.disk_usage(folder).free
    if free < 2 * needed:
        raise NSTError(
            f"{folder}: {free / 1e9:.1f} GB free, and this run writes up to {needed / 1e9:.1f} GB (its saved "
            "iterations, final image and checkpoint); free some space, choose another --output-dir, or save "
            "less often (--save-every)"
        )
