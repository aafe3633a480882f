import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
import torch  # noqa: E402

from taskvec.testing import color_image, tiny_adapter  # noqa: E402,F401  (tests import them from here)

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture
def images():
    return [color_image(i) for i in range(6)]
