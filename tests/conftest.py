import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

_ADAPTERS: dict = {}


def tiny_adapter(family: str):
    """One tiny random-weight adapter per family per test session (models are never mutated)."""
    from taskvec.models import load_model

    if family not in _ADAPTERS:
        _ADAPTERS[family] = load_model(f"tiny-random/{family}")
    return _ADAPTERS[family]


def color_image(seed: int, size=(40, 30)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


@pytest.fixture
def images():
    return [color_image(i) for i in range(6)]
