"""The inputs every system in tools/bench/bench-peers.py sees: one 224x224 PNG, its pixel tensor, and
two prompts with their token ids. Imports only numpy and Pillow, so the fresh-process memory
probes (tools/bench/peers/ort-rss.py) can load the same files without torch.

The image is made 224x224 on purpose: CLIP preprocessing (resize shortest side to 224, center
crop 224, /255, normalize) is then the identity on geometry for every implementation, so
PocketCLIP (which decodes and preprocesses the PNG itself) and ONNX Runtime (fed the tensor)
see the same numbers, whatever crop-rounding rule each one follows.
"""

import json
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[3]

# A committed test picture, upscaled once with Pillow's BICUBIC: real image statistics, no download.
SOURCE_IMAGE = ROOT / "Tests" / "Fixtures" / "tiny-openclip" / "images" / "rgb_40x54.png"
IMAGE_SIZE = 224

SHORT_PROMPT = "a photo of a cat"
# Cycled to build the long prompt: every word is one BPE token, so it fills the context exactly.
LONG_WORDS = ("a photo of a cat sitting on a red chair next to the window in the morning light "
              "while a small dog sleeps on the floor").split()
CONTEXT = 77


def write_image(path):
    """Writes the benchmark image (224x224 RGB PNG) to `path`."""
    img = Image.open(SOURCE_IMAGE).convert("RGB").resize((IMAGE_SIZE, IMAGE_SIZE), Image.BICUBIC)
    img.save(path)


def pixels(path, mean, std):
    """[1, 3, 224, 224] float32: the CLIP preprocessing of a 224x224 image (no resize or crop
    needed), with the checkpoint's mean and std."""
    x = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / np.float32(255.0)
    assert x.shape == (IMAGE_SIZE, IMAGE_SIZE, 3), f"expected a 224x224 image, found {x.shape}"
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def long_prompt(count_tokens):
    """The shortest cycle of LONG_WORDS whose tokenization (SOT + words + EOT) is exactly 77
    tokens. `count_tokens(text)` returns that count with the checkpoint's tokenizer."""
    words = []
    while True:
        words.append(LONG_WORDS[len(words) % len(LONG_WORDS)])
        n = count_tokens(" ".join(words))
        if n == CONTEXT:
            return " ".join(words)
        if n > CONTEXT:
            raise RuntimeError(f"could not build a prompt of exactly {CONTEXT} tokens (jumped to {n})")


def load_manifest(workdir):
    return json.loads((Path(workdir) / "manifest.json").read_text())
