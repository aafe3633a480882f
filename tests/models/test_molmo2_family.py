"""Molmo2's traps on its tiny build (taskvec/models/families/molmo2.py): all image tokens of a prompt
attend to each other (one bidirectional block), an image is two views interrupted by column
markers, and the processor prepends a token to image prompts only."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from taskvec.core.activations import residuals  # noqa: E402
from taskvec.core.prompts import icl_prompt, query_prompt  # noqa: E402
from taskvec.core.sweep import layer_sweep, naive_sweep  # noqa: E402
from taskvec.testing import color_image, tiny_adapter  # noqa: E402

ATOL = 2e-4
PROMPT = icl_prompt([(color_image(1), "Paris"), (color_image(2), "Rome")], color_image(3))


def test_image_tokens_form_one_bidirectional_block():
    """An earlier image's tokens see a later image (so the block is real), yet every image precedes
    the delimiter: the declared prefix-cache sweep equals the per-layer loop, while the one-pass
    sweep, whose 4-D mask replaces the block, does not."""
    a = tiny_adapter("molmo2")
    other = icl_prompt([(color_image(1), "Paris"), (color_image(2), "Rome")], Image.new("RGB", (40, 30), (255, 255, 0)))
    first = a.image_runs(a.encode([PROMPT]).input_ids[0].tolist())[0]
    assert first == a.image_runs(a.encode([other]).input_ids[0].tolist())[0]  # same layout, last image differs
    pos = [first]
    a_res, b_res = (residuals(a, [p], positions=pos).values[0, 1] for p in (PROMPT, other))
    assert (a_res - b_res).abs().max() > 1e-4  # image 1 attends to image 3

    assert (a.causal_prefix, a.packed_sweep) == (True, False)
    vec = residuals(a, [icl_prompt([("France", "Paris"), ("Italy", "Rome")], "Peru")]).values[0, :, 0]
    slow = naive_sweep(a, PROMPT, vec).logits
    torch.testing.assert_close(layer_sweep(a, PROMPT, vec).logits, slow, atol=ATOL, rtol=1e-4)
    one_pass = type("OnePass", (type(a),), {"packed_sweep": True})
    b = object.__new__(one_pass)
    b.__dict__.update(a.__dict__)
    assert (layer_sweep(b, PROMPT, vec).logits - slow).abs().max() > 1e-4


def test_one_run_per_image_over_both_views():
    a = tiny_adapter("molmo2")
    enc = a.encode([PROMPT])
    ids = enc.input_ids[0, : int(enc.lengths[0])].tolist()
    patch = a.tokenizer.convert_tokens_to_ids("<im_patch>")
    runs = a.image_runs(ids)
    assert len(runs) == 3 and sum(map(len, runs)) == ids.count(patch)
    low = a.tokenizer.convert_tokens_to_ids("<low_res_im_start>")
    starts = [i for i, t in enumerate(ids) if t == low]
    for run, start, nxt in zip(runs, starts, starts[1:] + [len(ids)]):
        assert start < run[0] and run[-1] < nxt
        views = [i for i in range(start, nxt) if ids[i] == a.tokenizer.convert_tokens_to_ids("<im_end>")]
        assert len(views) == 2 and run[-1] < views[-1]  # both views inside the run's image


def test_raw_template_for_text_and_image_prompts():
    """The processor alone starts an image prompt with <|endoftext|>; the adapter encodes every prompt
    as the raw template, so a text prompt encodes the same alone or beside an image prompt."""
    a = tiny_adapter("molmo2")
    img = query_prompt(color_image(3))
    text, rendered = a.render(img)
    raw = a.processor(text=[text], images=rendered, return_tensors="pt")["input_ids"][0]
    assert a.decode_token(int(raw[0])) == "<|endoftext|>"
    enc = a.encode([img])
    torch.testing.assert_close(enc.input_ids[0], raw[1:])
    txt = query_prompt("Spain")
    alone = a.encode([txt])
    mixed = a.encode([txt, img])
    n = int(alone.lengths[0])
    assert torch.equal(mixed.input_ids[0, :n], alone.input_ids[0]) and int(mixed.lengths[0]) == n
    assert alone.input_ids[0].tolist() == a.tokenizer("Q:Spain\nA:")["input_ids"]
