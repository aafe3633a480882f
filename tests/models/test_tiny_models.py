"""Tiny random-weight models: every family builds offline and runs text and image prompts.

No wall-clock budgets here: timings belong in ``python -m taskvec bench``.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from taskvec.errors import ModelLoadError  # noqa: E402
from taskvec.testing import (  # noqa: E402
    TEXT_ONLY_FAMILIES,
    TINY_FAMILIES,
    TINY_NOTES,
    TINY_NUM_LAYERS,
    build_tiny,
    image_placeholder,
    layers_path,
    tiny_adapter,
)

TEXT_PROMPT = "Q:France\nA:Paris\n\nQ:Italy\nA:"
VLMS = [f for f in TINY_FAMILIES if f not in TEXT_ONLY_FAMILIES]

# Where the decoder layers live, as documented in DESIGN.md ("Facts about transformers").
DOCUMENTED_LAYERS_PATH = {
    **dict.fromkeys(("idefics3", "smolvlm", "idefics2"), "model.text_model.layers"),
    **dict.fromkeys(("llava", "llava_onevision", "qwen2_vl", "qwen2_5_vl", "fuyu", "gemma3", "llava_next",
                     "llava_next_video", "vipllava", "video_llava", "mistral3", "internvl", "aya_vision"),
                    "model.language_model.layers"),
    **dict.fromkeys(("llama", "mistral", "qwen2", "gemma3_text"), "model.layers"),
    **dict.fromkeys(("glm4v", "glm4v_moe", "glm46v", "gemma4", "qwen3_5", "qwen3_5_moe", "lfm2_vl",
                     "molmo2"),  # families/{glm4v,gemma4,qwen3_5,lfm2_vl,molmo2}.py
                    "model.language_model.layers"),
    **dict.fromkeys(("qwen3_vl", "qwen3_vl_moe"), "model.language_model.layers"),  # families/qwen3_vl.py
    "gemma3n": "model.language_model.layers",  # families/gemma3n.py
    **dict.fromkeys(("paligemma", "deepseek_vl", "perception_lm", "cohere2_vision"),  # families/<type>.py
                    "model.language_model.layers"),
    "llama4": "language_model.model.layers",  # families/llama4.py
    "mllama": "model.language_model.layers",  # families/mllama.py: the self-attention layers of it
}

_CACHE: dict[str, tuple] = {}


def _tiny(family):
    if family not in _CACHE:
        _CACHE[family] = build_tiny(family)
    return _CACHE[family]


def _tokenizer(proc):
    return getattr(proc, "tokenizer", proc)


def _layers(model, family):
    obj = model
    for name in layers_path(tiny_adapter(family)).split("."):  # found by the family's adapter
        obj = getattr(obj, name)
    return obj


def _image(color=(200, 30, 30), size=(40, 30)):
    return Image.new("RGB", size, color)


def _encode_one_image(family, proc, text_before="Q:", text_after="\nA:"):
    if family == "fuyu":  # Fuyu takes the image apart from the text and puts it first
        return proc(text=text_before + text_after, images=_image(), return_tensors="pt")
    ph = image_placeholder(family)
    return proc(text=[f"{text_before}{ph}{text_after}"], images=[[_image()]], return_tensors="pt")


def _image_token_id(model):
    cfg = model.config
    for name in ("image_token_id", "image_token_index"):
        if getattr(cfg, name, None) is not None:
            return getattr(cfg, name)
    raise AssertionError("config has no image token id")


def _check_run(model, enc):
    # in the model's dtype, as adapters pass them (Llama 4's processor rescales images in bfloat16)
    enc = {k: v.to(model.dtype) if torch.is_tensor(v) and v.is_floating_point() else v for k, v in enc.items()}
    T = enc["input_ids"].shape[1]
    V = model.config.get_text_config().vocab_size
    assert int(enc["input_ids"].max()) < V
    with torch.no_grad():
        out = model(**enc)
    assert tuple(out.logits.shape) == (1, T, V)
    assert torch.isfinite(out.logits).all()
    with torch.no_grad():
        gen = model.generate(**enc, max_new_tokens=3, do_sample=False)
    assert gen.shape[0] == 1 and T < gen.shape[1] <= T + 3
    return out


def test_unknown_family_names_the_available_ones():
    with pytest.raises(ModelLoadError) as err:
        build_tiny("gpt5")
    assert "gpt5" in str(err.value) and "idefics3" in str(err.value) and "qwen2_vl" in str(err.value)
    with pytest.raises(ModelLoadError):
        image_placeholder("gpt5")


def test_every_family_has_notes_and_metadata():
    assert set(TINY_FAMILIES) == set(DOCUMENTED_LAYERS_PATH)  # every family, and only those, has a tiny model
    assert all(TINY_NOTES[f].strip() for f in TINY_FAMILIES)
    assert all(2 <= TINY_NUM_LAYERS[f] <= 4 for f in TINY_FAMILIES)
    assert len(set(TINY_NUM_LAYERS.values())) >= 2  # not every family the same depth
    for f in TEXT_ONLY_FAMILIES:
        assert image_placeholder(f) is None
    assert image_placeholder("qwen2_vl") == "<|vision_start|><|image_pad|><|vision_end|>"
    assert image_placeholder("gemma3") == "<start_of_image>"
    # read from the processor by the generic layout reading (llava_style declares no placeholder itself)
    assert image_placeholder("llava_next") == "<image>" and image_placeholder("mistral3") == "[IMG]"


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_adapter_finds_the_documented_layers(family):
    assert layers_path(tiny_adapter(family)) == DOCUMENTED_LAYERS_PATH[family]


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_build_shape_and_label(family):
    model, proc = _tiny(family)
    cfg = model.config
    text_cfg = cfg.get_text_config()
    assert cfg._taskvec_tiny_random is True
    assert not model.training
    assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in model.parameters())
    assert 32 <= text_cfg.hidden_size <= 64
    layers = _layers(model, family)
    skipped = getattr(text_cfg, "cross_attention_layers", None) or []  # mllama: not listed, not counted
    assert isinstance(layers, torch.nn.ModuleList) and len(layers) - len(skipped) == TINY_NUM_LAYERS[family]
    assert 2 <= len(layers) - len(skipped) <= 4 and text_cfg.num_hidden_layers == len(layers)
    tok = _tokenizer(proc)
    assert len(tok) <= text_cfg.vocab_size <= (1536 if family == "paligemma" else 1024)  # + 1152 <loc>/<seg> tokens
    assert tok.pad_token_id is not None
    if family in TEXT_ONLY_FAMILIES:
        assert proc is tok
    else:
        assert proc is not tok and hasattr(proc, "image_processor")


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_text_prompt(family):
    model, proc = _tiny(family)
    if family == "paligemma":  # its processor requires images: the adapter writes <bos> + text + "\n" (its separator)
        enc = tiny_adapter(family).processor_call([TEXT_PROMPT], [[]])
    else:
        enc = proc(text=[TEXT_PROMPT], return_tensors="pt") if family not in TEXT_ONLY_FAMILIES else proc(
            [TEXT_PROMPT], return_tensors="pt"
        )
    tok = _tokenizer(proc)
    ids = enc["input_ids"][0].tolist()
    colon = tok.convert_tokens_to_ids(":")
    assert ids[-1] == colon or (family == "paligemma" and ids[-2] == colon)  # ':' is its own token and ends the prompt
    assert ids.count(colon) == 4
    # the decoder layers really run (adapters hook them)
    calls = []
    hooks = [layer.register_forward_hook(lambda *a: calls.append(1)) for layer in _layers(model, family)]
    try:
        _check_run(model, enc)
    finally:
        for h in hooks:
            h.remove()
    assert len(calls) >= TINY_NUM_LAYERS[family]


@pytest.mark.parametrize("family", VLMS)
def test_one_image_prompt(family):
    model, proc = _tiny(family)
    enc = _encode_one_image(family, proc)
    ids = enc["input_ids"][0].tolist()
    n_img = ids.count(_image_token_id(model))
    assert 1 <= n_img <= (70 if family == "gemma4" else 40)  # a handful of tokens (Gemma 4: 70 at the least)
    colon = _tokenizer(proc).convert_tokens_to_ids(":")
    assert colon in ids
    _check_run(model, enc)


@pytest.mark.parametrize("family", VLMS)
def test_two_images_prompt(family):
    model, proc = _tiny(family)
    text = "Q:{p}\nA:red\n\nQ:{p}\nA:"
    imgs = [_image((200, 30, 30)), _image((20, 30, 200), size=(30, 50))]
    if family == "fuyu":  # documented in TINY_NOTES: one image per prompt, placed first
        with pytest.raises(ValueError):
            proc(text=[text.format(p="")], images=[imgs], return_tensors="pt")
        return
    ph = image_placeholder(family)
    enc = proc(text=[text.format(p=ph)], images=[imgs], return_tensors="pt")
    one = _encode_one_image(family, proc)
    img_id = _image_token_id(model)
    n_two = enc["input_ids"][0].tolist().count(img_id)
    n_one = one["input_ids"][0].tolist().count(img_id)
    if family == "llava_onevision":  # several images: no anyres crops, base grid + newline each
        assert 2 <= n_two <= n_one
    else:
        assert n_two > n_one
    _check_run(model, enc)


def test_seed_changes_weights_and_is_reproducible():
    a, _ = build_tiny("llama", seed=0)
    b, _ = build_tiny("llama", seed=0)
    c, _ = build_tiny("llama", seed=1)
    wa, wb, wc = (m.get_input_embeddings().weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_no_packed_sweep_over_layers_that_build_their_own_masks(family):
    """A packed sweep replaces the model's masks with one custom 4-D mask: exact only where every layer is
    plain full attention. Sliding-window, chunked, linear-attention and convolution layers must not declare it."""
    adapter = tiny_adapter(family)
    kinds = set(getattr(adapter.text_config, "layer_types", None) or []) - {"full_attention"}
    if kinds:
        assert not adapter.packed_sweep, f"{family}: packed sweep declared over {sorted(kinds)} layers"
