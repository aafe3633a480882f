"""Fixtures shared by the in-process app tests."""

import pytest

from taskvec.testing import tiny_adapter


@pytest.fixture(scope="module")
def tiny_vlm_host():
    """The app's model host serving a tiny random Idefics3 for one test module, the previous model restored after."""
    ui = pytest.importorskip("taskvec.app.ui")
    old = ui.HOST.adapter
    ui.HOST.adapter = tiny_adapter("idefics3")
    yield ui.HOST
    ui.HOST.adapter = old
