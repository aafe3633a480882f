"""Settings for every test, in every subfolder: offline, two threads, a persistent numba cache.

Test files import their helpers from ``taskvec.testing`` (``tiny_adapter``, ``color_image``,
``build_tiny``, ...); the names below stay importable from here for the top-level test files.
"""

import os
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# UMAP's numba functions compile on first use (tens of seconds on a busy CPU); cache them across runs.
# Set before anything imports numba.
os.environ.setdefault("NUMBA_CACHE_DIR",
                      str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "taskvec-numba"))

import pytest  # noqa: E402
import torch  # noqa: E402

from taskvec.testing import color_image, tiny_adapter  # noqa: E402,F401  (tests import them from here)

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture
def images():
    return [color_image(i) for i in range(6)]
