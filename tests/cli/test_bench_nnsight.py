"""nnsight as the bench's optional contender: its batched sweep computes what taskvec's does
(checked before it is timed), and wrapping a model in it leaves taskvec's tokenizer as it was."""

from __future__ import annotations

import pytest
import torch

from taskvec.cli.bench import _nnsight_op, nnsight_sweep
from taskvec.core.activations import residuals
from taskvec.core.prompts import icl_prompt, query_prompt
from taskvec.core.sweep import layer_sweep, naive_sweep
from taskvec.testing import color_image, tiny_adapter

pytest.importorskip("nnsight")


@pytest.mark.parametrize("family", ["llama", "idefics2", "llava", "qwen3_vl"])  # qwen3_vl: layer inputs
def test_nnsight_sweep_equals_the_per_layer_loop(family):
    adapter = tiny_adapter(family)
    vec = residuals(adapter, [icl_prompt([("France", "Paris"), ("Italy", "Rome")], "Chile")]).values[0, :, 0]
    q = query_prompt("Spain")
    side = adapter.tokenizer.padding_side
    op = _nnsight_op(adapter, q, vec)
    assert adapter.tokenizer.padding_side == side == "right"  # the wrapper's left padding undone
    got = nnsight_sweep(adapter, q, vec)
    torch.testing.assert_close(got, naive_sweep(adapter, q, vec).logits.float(), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(got, layer_sweep(adapter, q, vec).logits.float(), atol=1e-4, rtol=1e-4)
    assert op().shape == got.shape and adapter.tokenizer.padding_side == "right"  # after every trace too
    # a different vector changes the contender's logits: the comparison above can fail
    assert not torch.allclose(nnsight_sweep(adapter, q, torch.zeros_like(vec))[1:], got[1:], atol=1e-4)


def test_nnsight_contender_refuses_image_queries():
    from taskvec.errors import TaskvecError

    adapter = tiny_adapter("llava")
    with pytest.raises(TaskvecError, match="text or token ids only"):
        nnsight_sweep(adapter, query_prompt(color_image(3)), torch.zeros(adapter.n_layers + 1, adapter.hidden_size))


def test_nnsight_contender_refuses_stacked_streams_by_name():
    """Gemma 3n passes K AltUp streams between layers: indexing layer outputs would patch the wrong tensor."""
    from taskvec.errors import TaskvecError

    adapter = tiny_adapter("gemma3n")
    with pytest.raises(TaskvecError, match="stacked AltUp streams"):
        _nnsight_op(adapter, query_prompt("Spain"), torch.zeros(adapter.n_layers + 1, adapter.hidden_size))
