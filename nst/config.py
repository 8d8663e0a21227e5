"""The exercise's numbers, in one place.

Every default of nst comes from here, and the tests pin each one to the value the
"Art Generation with Neural Style Transfer" exercise uses.
"""

from pathlib import Path

# Size of the generated image (and of the network's input).
IMAGE_HEIGHT = 300
IMAGE_WIDTH = 400
COLOR_CHANNELS = 3

# Share of noise in the initial generated image.
NOISE_RATIO = 0.6

# ImageNet mean pixel in RGB order, subtracted from every image before VGG19 sees it.
MEANS = (123.68, 116.779, 103.939)

# The layer whose activations define "content".
CONTENT_LAYER = "conv4_2"

# The layers whose Gram matrices define "style", with their weights (they sum to 1).
STYLE_LAYERS = (
    ("conv1_1", 0.2),
    ("conv2_1", 0.2),
    ("conv3_1", 0.2),
    ("conv4_1", 0.2),
    ("conv5_1", 0.2),
)

# J = ALPHA * J_content + BETA * J_style
ALPHA = 10
BETA = 40

# Adam on the pixels of the generated image.
LEARNING_RATE = 2.0
ITERATIONS = 200
SAVE_EVERY = 20

# Where things live, relative to the repository root.
ROOT = Path(__file__).resolve().parent.parent
PRETRAINED_DIR = ROOT / "pretrained-model"
IMAGES_DIR = ROOT / "images"
OUTPUT_DIR = ROOT / "output"
CONTENT_IMAGE = IMAGES_DIR / "golden_gate_bridge.jpg"
STYLE_IMAGE = IMAGES_DIR / "monet_houses_of_parliament.jpg"
