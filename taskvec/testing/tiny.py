"""Tiny random-weight models + processors for every supported family, built fully offline.

``build_tiny(family)`` returns ``(model, processor_or_tokenizer)``: a model with hidden size
32-64, 2-4 decoder layers and a few-hundred-token vocabulary, randomly initialised (seeded),
in eval mode, fp32, on CPU; the processor is the family's own processor class built from its
own image processor (tiny image sizes, so one image is a handful of tokens) and a local
tokenizer made with the ``tokenizers`` library. Nothing touches the network or a model hub.

The weights are meaningless: ``model.config._taskvec_tiny_random`` is True so a UI can say so.
These models exist so tests can check taskvec's mechanics on every architecture.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import torch

from taskvec.errors import ModelLoadError

if TYPE_CHECKING:
    from transformers import PreTrainedModel

TINY_FAMILIES: tuple[str, ...] = (
    "idefics3",
    "smolvlm",
    "idefics2",
    "llava",
    "llava_onevision",
    "qwen2_vl",
    "qwen2_5_vl",
    "fuyu",
    "gemma3",
    "llama",
    "mistral",
    "qwen2",
)

TEXT_ONLY_FAMILIES: frozenset[str] = frozenset({"llama", "mistral", "qwen2"})

# The text a prompt uses for ONE image in each family (None: text-only, or Fuyu — see notes).
_PLACEHOLDERS: dict[str, str | None] = {
    "idefics3": "<image>",
    "smolvlm": "<image>",
    "idefics2": "<image>",
    "llava": "<image>",
    "llava_onevision": "<image>",
    "qwen2_vl": "<|vision_start|><|image_pad|><|vision_end|>",
    "qwen2_5_vl": "<|vision_start|><|image_pad|><|vision_end|>",
    "fuyu": None,
    "gemma3": "<start_of_image>",
    "llama": None,
    "mistral": None,
    "qwen2": None,
}

# Where the decoder layers live (attribute path from the model returned by build_tiny).
TINY_LAYERS_PATH: dict[str, str] = {
    "idefics3": "model.text_model.layers",
    "smolvlm": "model.text_model.layers",
    "idefics2": "model.text_model.layers",
    "llava": "model.language_model.layers",
    "llava_onevision": "model.language_model.layers",
    "qwen2_vl": "model.language_model.layers",
    "qwen2_5_vl": "model.language_model.layers",
    "fuyu": "model.language_model.layers",
    "gemma3": "model.language_model.layers",
    "llama": "model.layers",
    "mistral": "model.layers",
    "qwen2": "model.layers",
}

# Number of decoder layers of each tiny model (varied on purpose: 2, 3 or 4).
TINY_NUM_LAYERS: dict[str, int] = {
    "idefics3": 3,
    "smolvlm": 2,
    "idefics2": 3,
    "llava": 4,
    "llava_onevision": 3,
    "qwen2_vl": 3,
    "qwen2_5_vl": 2,
    "fuyu": 3,
    "gemma3": 4,
    "llama": 4,
    "mistral": 3,
    "qwen2": 2,
}

TINY_NOTES: dict[str, str] = {}  # filled below, next to each builder

_HIDDEN = 32
_HEADS = 2
_INTER = 64
_TINY_LABEL = "_taskvec_tiny_random"


def image_placeholder(family: str) -> str | None:
    """The text a prompt uses for one image in ``family`` (None for text-only models and Fuyu)."""
    _check_family(family)
    return _PLACEHOLDERS[family]


def _check_family(family: str) -> None:
    if family not in TINY_FAMILIES:
        raise ModelLoadError(
            f"No tiny model for family {family!r}. Available families: {', '.join(TINY_FAMILIES)}."
        )


# --------------------------------------------------------------------------- tokenizers


def _byte_level_tokenizer(
    *,
    bos: str | None,
    eos: str,
    pad: str,
    unk: str | None = None,
    specials: list[str] = (),
    add_bos: bool = False,
    named: dict[str, str] | None = None,
):
    """A GPT-2 style byte-level BPE with no merges: every byte (so ':' and '\\n') is one token.

    ``specials`` are family tokens (image placeholders, ...) added as special tokens after the
    256 byte tokens. ``named`` become tokenizer attributes (e.g. ``boi_token``), the way the
    hub tokenizers of multimodal families expose them.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    base = [t for t in (pad, bos, eos, unk) if t is not None]
    base = list(dict.fromkeys(base))
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {tok: i for i, tok in enumerate(base)}
    for ch in alphabet:
        vocab.setdefault(ch, len(vocab))
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=unk))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    extra = [t for t in specials if t not in vocab]
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in base + extra])
    if add_bos and bos is not None:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, vocab[bos])]
        )
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    kwargs: dict[str, Any] = dict(tokenizer_object=tok, eos_token=eos, pad_token=pad)
    if bos is not None:
        kwargs["bos_token"] = bos
    if unk is not None:
        kwargs["unk_token"] = unk
    if named:
        kwargs["extra_special_tokens"] = dict(named)
    fast = PreTrainedTokenizerFast(**kwargs)
    return fast


def _spm_like_tokenizer(*, pieces: list[str], specials: list[str], add_bos: bool):
    """A SentencePiece-like Unigram tokenizer: ``▁`` for spaces and a prepended ``▁``, byte fallback.

    Character-level (every printable ASCII character is a piece, so ':' is its own token);
    ``pieces`` are extra whole pieces of the vocabulary (Fuyu's ``|SPEAKER|``/``|NEWLINE|`` are
    ordinary vocabulary pieces in the hub tokenizer too), so a text starting with them is
    tokenised as ``▁``, ``|SPEAKER|``, ... — FuyuProcessor relies on that leading ``▁`` when it
    strips the first token of the image placeholder. ``specials`` are added special tokens.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, processors
    from transformers import PreTrainedTokenizerFast

    base = ["<unk>", "<s>", "</s>"]
    vocab: list[tuple[str, float]] = [(t, 0.0) for t in base]
    vocab += [(f"<0x{b:02X}>", 0.0) for b in range(256)]
    vocab += [(chr(c), -5.0) for c in range(33, 127)] + [("▁", -5.0)]
    vocab += [(p, -1.0) for p in pieces]
    tok = Tokenizer(models.Unigram(vocab, unk_id=0, byte_fallback=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in base + specials])
    if add_bos:
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<unk>"
    )


def _vocab_size(tokenizer) -> int:
    n = len(tokenizer)
    return (n + 7) // 8 * 8


def _llama_like_text(n_layers: int, vocab: int, tok, **extra) -> dict:
    d = dict(
        vocab_size=vocab,
        hidden_size=_HIDDEN,
        intermediate_size=_INTER,
        num_hidden_layers=n_layers,
        num_attention_heads=_HEADS,
        num_key_value_heads=1,
        max_position_embeddings=512,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        tie_word_embeddings=False,
    )
    d.update(extra)
    return d


def _finish(model, family: str, seed: int):
    model.eval()
    model.to(dtype=torch.float32, device="cpu")
    model.config._taskvec_tiny_random = True
    model.config._taskvec_tiny_family = family
    model.config._taskvec_tiny_seed = seed
    gc = getattr(model, "generation_config", None)
    if gc is not None:
        tok_cfg = model.config.get_text_config()
        gc.pad_token_id = getattr(tok_cfg, "pad_token_id", None)
        gc.eos_token_id = getattr(tok_cfg, "eos_token_id", None)
        gc.bos_token_id = getattr(tok_cfg, "bos_token_id", None)
    return model


# --------------------------------------------------------------------------- text-only


def _build_text_only(family: str, seed: int):
    from transformers import (
        LlamaConfig,
        LlamaForCausalLM,
        MistralConfig,
        MistralForCausalLM,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    n = TINY_NUM_LAYERS[family]
    if family == "qwen2":
        tok = _byte_level_tokenizer(
            bos=None, eos="<|endoftext|>", pad="<|endoftext|>", specials=["<|im_start|>", "<|im_end|>"]
        )
        cfg = Qwen2Config(**_llama_like_text(n, _vocab_size(tok), tok))
        cls = Qwen2ForCausalLM
    else:
        if family == "llama":
            tok = _byte_level_tokenizer(bos="<s>", eos="</s>", pad="<pad>", unk="<unk>", add_bos=True)
            cfg, cls = LlamaConfig(**_llama_like_text(n, _vocab_size(tok), tok)), LlamaForCausalLM
        else:
            tok = _spm_like_tokenizer(pieces=[], specials=[], add_bos=True)
            cfg = MistralConfig(**_llama_like_text(n, _vocab_size(tok), tok, sliding_window=None))
            cls = MistralForCausalLM
    torch.manual_seed(seed)
    return _finish(cls(cfg), family, seed), tok


TINY_NOTES["llama"] = "Text-only LlamaForCausalLM; byte-level tokenizer that prepends <s> (BOS)."
TINY_NOTES["mistral"] = (
    "Text-only MistralForCausalLM (no sliding window); SentencePiece-like tokenizer: prepends <s> "
    "and a '▁' before the text, spaces become '▁', '\\n' is the byte token <0x0A>."
)
TINY_NOTES["qwen2"] = "Text-only Qwen2ForCausalLM; no BOS (like Qwen), pad = eos = <|endoftext|>."


# --------------------------------------------------------------------------- Idefics3 / SmolVLM

_ROW_COL = [f"<row_{i + 1}_col_{j + 1}>" for i in range(6) for j in range(6)]


def _build_idefics3(family: str, seed: int):
    # image 32 px, patch 8 -> 4x4 patches; pixel shuffle (scale_factor 2) -> 4 image tokens.
    img, patch, scale = 32, 8, 2
    seq_len = (img // patch) ** 2 // scale**2
    specials = ["<fake_token_around_image>", "<image>", "<global-img>", "<end_of_utterance>"] + _ROW_COL
    if family == "smolvlm":
        specials.append("<video>")
        tok = _byte_level_tokenizer(bos="<|im_start|>", eos="<end_of_utterance>", pad="<|endoftext|>",
                                    specials=specials)
    else:
        tok = _byte_level_tokenizer(bos="<|begin_of_text|>", eos="<|end_of_text|>", pad="<|finetune_pad|>",
                                    specials=specials, add_bos=True)
    vocab = _vocab_size(tok)
    n = TINY_NUM_LAYERS[family]
    vision = dict(hidden_size=_HIDDEN, intermediate_size=_INTER, num_hidden_layers=2, num_attention_heads=_HEADS,
                  image_size=img, patch_size=patch)
    text = _llama_like_text(n, vocab, tok)
    ip_kwargs = dict(size={"longest_edge": img}, max_image_size={"longest_edge": img}, do_image_splitting=False)
    if family == "smolvlm":
        from transformers import (SmolVLMConfig, SmolVLMForConditionalGeneration, SmolVLMImageProcessor,
                                  SmolVLMProcessor, SmolVLMVideoProcessor)

        cfg = SmolVLMConfig(vision_config=vision, text_config=text, scale_factor=scale,
                            image_token_id=tok.convert_tokens_to_ids("<image>"), pad_token_id=tok.pad_token_id)
        proc = SmolVLMProcessor(
            image_processor=SmolVLMImageProcessor(**ip_kwargs),
            tokenizer=tok,
            video_processor=SmolVLMVideoProcessor(size={"longest_edge": img}, max_image_size={"longest_edge": img}),
            image_seq_len=seq_len,
        )
        cls = SmolVLMForConditionalGeneration
    else:
        from transformers import (Idefics3Config, Idefics3ForConditionalGeneration, Idefics3ImageProcessor,
                                  Idefics3Processor)

        cfg = Idefics3Config(vision_config=vision, text_config=text, scale_factor=scale,
                             image_token_id=tok.convert_tokens_to_ids("<image>"), pad_token_id=tok.pad_token_id)
        proc = Idefics3Processor(image_processor=Idefics3ImageProcessor(**ip_kwargs), tokenizer=tok,
                                 image_seq_len=seq_len)
        cls = Idefics3ForConditionalGeneration
    torch.manual_seed(seed)
    return _finish(cls(cfg), family, seed), proc


TINY_NOTES["idefics3"] = (
    "<image> expands to <fake_token_around_image><global-img> + 4x<image> + <fake_token_around_image> "
    "(splitting off); tokenizer prepends <|begin_of_text|>."
)
TINY_NOTES["smolvlm"] = (
    "Like Idefics3 (<image> -> fake/global-img/4x<image>/fake, splitting off), no BOS; "
    "SmolVLMProcessor needs the `num2words` package."
)


# --------------------------------------------------------------------------- Idefics2


def _build_idefics2(family: str, seed: int):
    from transformers import (Idefics2Config, Idefics2ForConditionalGeneration, Idefics2ImageProcessor,
                              Idefics2Processor)

    img, patch, latents = 28, 7, 4
    tok = _spm_like_tokenizer(pieces=[], add_bos=True,
                              specials=["<fake_token_around_image>", "<image>", "<end_of_utterance>"])
    vocab = _vocab_size(tok)
    cfg = Idefics2Config(
        vision_config=dict(hidden_size=_HIDDEN, intermediate_size=_INTER, num_hidden_layers=2,
                           num_attention_heads=_HEADS, image_size=img, patch_size=patch),
        perceiver_config=dict(hidden_size=_HIDDEN, resampler_n_latents=latents, resampler_depth=1,
                              resampler_n_heads=_HEADS, resampler_head_dim=16, num_key_value_heads=1),
        text_config=_llama_like_text(TINY_NUM_LAYERS[family], vocab, tok, sliding_window=None),
        image_token_id=tok.convert_tokens_to_ids("<image>"),
    )
    proc = Idefics2Processor(
        image_processor=Idefics2ImageProcessor(size={"shortest_edge": img, "longest_edge": img},
                                               do_image_splitting=False),
        tokenizer=tok,
        image_seq_len=latents,
    )
    torch.manual_seed(seed)
    return _finish(Idefics2ForConditionalGeneration(cfg), family, seed), proc


TINY_NOTES["idefics2"] = (
    "<image> expands to <fake_token_around_image> + 4x<image> (perceiver latents) + "
    "<fake_token_around_image>; SentencePiece-like tokenizer (<s>, then '▁' before the text, and "
    "a '▁' again after each special token, as legacy Llama/Mistral tokenizers do)."
)


# --------------------------------------------------------------------------- LLaVA


def _build_llava(family: str, seed: int):
    from transformers import (CLIPImageProcessor, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor)

    img, patch = 28, 7  # 4x4 = 16 patches (+ CLS dropped by the "default" strategy) -> 16 tokens
    tok = _byte_level_tokenizer(bos="<s>", eos="</s>", pad="<pad>", unk="<unk>", add_bos=True,
                                specials=["<image>"])
    vocab = _vocab_size(tok)
    cfg = LlavaConfig(
        vision_config=dict(model_type="clip_vision_model", hidden_size=_HIDDEN, intermediate_size=_INTER,
                           num_hidden_layers=2, num_attention_heads=_HEADS, image_size=img, patch_size=patch,
                           projection_dim=_HIDDEN),
        text_config=_llama_like_text(TINY_NUM_LAYERS[family], vocab, tok),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        image_seq_length=(img // patch) ** 2,
        vision_feature_select_strategy="default",
        vision_feature_layer=-2,
    )
    proc = LlavaProcessor(
        image_processor=CLIPImageProcessor(size={"shortest_edge": img}, crop_size={"height": img, "width": img}),
        tokenizer=tok,
        patch_size=patch,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
    )
    torch.manual_seed(seed)
    return _finish(LlavaForConditionalGeneration(cfg), family, seed), proc


TINY_NOTES["llava"] = "<image> expands to 16x<image> (4x4 CLIP patches, CLS dropped); tokenizer prepends <s>."


# --------------------------------------------------------------------------- LLaVA-OneVision


def _build_llava_onevision(family: str, seed: int):
    from transformers import (LlavaOnevisionConfig, LlavaOnevisionForConditionalGeneration,
                              LlavaOnevisionImageProcessor, LlavaOnevisionProcessor,
                              LlavaOnevisionVideoProcessor)

    img, patch = 28, 14  # 2x2 patches per crop
    tok = _byte_level_tokenizer(bos=None, eos="<|im_end|>", pad="<|endoftext|>",
                                specials=["<|im_start|>", "<image>", "<video>"])
    vocab = _vocab_size(tok)
    cfg = LlavaOnevisionConfig(
        vision_config=dict(model_type="siglip_vision_model", hidden_size=_HIDDEN, intermediate_size=_INTER,
                           num_hidden_layers=2, num_attention_heads=_HEADS, image_size=img, patch_size=patch),
        text_config=dict(model_type="qwen2", **_llama_like_text(TINY_NUM_LAYERS[family], vocab, tok)),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        video_token_index=tok.convert_tokens_to_ids("<video>"),
        image_grid_pinpoints=[[img, img]],
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
    )
    proc = LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(size={"height": img, "width": img},
                                                     image_grid_pinpoints=[[img, img]]),
        tokenizer=tok,
        video_processor=LlavaOnevisionVideoProcessor(size={"height": img, "width": img}),
        num_image_tokens=(img // patch) ** 2,
        vision_feature_select_strategy="full",
    )
    torch.manual_seed(seed)
    return _finish(LlavaOnevisionForConditionalGeneration(cfg), family, seed), proc


TINY_NOTES["llava_onevision"] = (
    "<image> expands to 10x<image> for a lone image (base 2x2 + one anyres 28-px crop 2x2 + "
    "newlines) but to 5x<image> per image when a prompt has several (no anyres); Qwen2 text, no BOS."
)


# --------------------------------------------------------------------------- Qwen2-VL / 2.5-VL


def _build_qwen_vl(family: str, seed: int):
    patch, merge = 14, 2
    side = patch * merge * 2  # 56 px -> 4x4 patches -> 2x2 merged = 4 image tokens
    specials = ["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
                "<|video_pad|>"]
    tok = _byte_level_tokenizer(bos=None, eos="<|im_end|>", pad="<|endoftext|>", specials=specials)
    vocab = _vocab_size(tok)
    head_dim = _HIDDEN // _HEADS
    text = _llama_like_text(TINY_NUM_LAYERS[family], vocab, tok,
                            rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                             "mrope_section": [2, 3, 3]})
    assert sum(text["rope_parameters"]["mrope_section"]) == head_dim // 2
    ids = dict(
        image_token_id=tok.convert_tokens_to_ids("<|image_pad|>"),
        video_token_id=tok.convert_tokens_to_ids("<|video_pad|>"),
        vision_start_token_id=tok.convert_tokens_to_ids("<|vision_start|>"),
        vision_end_token_id=tok.convert_tokens_to_ids("<|vision_end|>"),
    )
    size = {"shortest_edge": side * side, "longest_edge": side * side}
    if family == "qwen2_vl":
        from transformers import (Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLImageProcessor,
                                  Qwen2VLProcessor, Qwen2VLVideoProcessor)

        vision = dict(depth=2, embed_dim=_HIDDEN, hidden_size=_HIDDEN, num_heads=_HEADS, mlp_ratio=2,
                      patch_size=patch, spatial_merge_size=merge)
        cfg = Qwen2VLConfig(text_config=text, vision_config=vision, **ids)
        cls, proc_cls = Qwen2VLForConditionalGeneration, Qwen2VLProcessor
    else:
        from transformers import (Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor,
                                  Qwen2VLImageProcessor, Qwen2VLVideoProcessor)

        vision = dict(depth=2, hidden_size=_HIDDEN, intermediate_size=_INTER, num_heads=_HEADS,
                      out_hidden_size=_HIDDEN, patch_size=patch, spatial_merge_size=merge, window_size=56,
                      fullatt_block_indexes=[1])
        cfg = Qwen2_5_VLConfig(text_config=text, vision_config=vision, **ids)
        cls, proc_cls = Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor
    proc = proc_cls(
        image_processor=Qwen2VLImageProcessor(size=size, patch_size=patch, merge_size=merge),
        tokenizer=tok,
        video_processor=Qwen2VLVideoProcessor(size=size, patch_size=patch, merge_size=merge),
    )
    torch.manual_seed(seed)
    return _finish(cls(cfg), family, seed), proc


TINY_NOTES["qwen2_vl"] = (
    "Prompt text <|vision_start|><|image_pad|><|vision_end|>; <|image_pad|> expands to 4-6 tokens "
    "(~56x56 px after smart resize, 14-px patches, 2x2 merge; count depends on aspect ratio); the "
    "processor also returns mm_token_type_ids; M-RoPE position ids (3 sections) made by the model."
)
TINY_NOTES["qwen2_5_vl"] = (
    "Like Qwen2-VL (<|image_pad|> -> 4-6 tokens, M-RoPE), windowed-attention vision tower; "
    "uses Qwen2VLImageProcessor (2.5-VL has no image processor of its own)."
)


# --------------------------------------------------------------------------- Fuyu


def _build_fuyu(family: str, seed: int):
    from transformers import FuyuConfig, FuyuForCausalLM, FuyuImageProcessor, FuyuProcessor

    side, patch = 30, 10  # 3x3 patches -> 3 rows of (3x|SPEAKER| + |NEWLINE|)
    tok = _spm_like_tokenizer(pieces=["|SPEAKER|", "|NEWLINE|"], specials=["<0x04>"], add_bos=True)
    if "token_type_ids" in tok.model_input_names:
        tok.model_input_names.remove("token_type_ids")
    vocab = _vocab_size(tok)
    cfg = FuyuConfig(
        text_config=dict(model_type="persimmon", vocab_size=vocab, hidden_size=_HIDDEN, intermediate_size=_INTER,
                         num_hidden_layers=TINY_NUM_LAYERS[family], num_attention_heads=_HEADS,
                         max_position_embeddings=512, pad_token_id=tok.pad_token_id,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id),
        image_size=side,
        patch_size=patch,
        image_token_id=tok.convert_tokens_to_ids("|SPEAKER|"),
        pad_token_id=tok.pad_token_id,
    )
    proc = FuyuProcessor(
        image_processor=FuyuImageProcessor(size={"height": side, "width": side},
                                           patch_size={"height": patch, "width": patch}),
        tokenizer=tok,
    )
    torch.manual_seed(seed)
    return _finish(FuyuForCausalLM(cfg), family, seed), proc


TINY_NOTES["fuyu"] = (
    "No placeholder text: pass processor(text=..., images=img); the processor puts the image "
    "FIRST (3 rows of 3x|SPEAKER| + |NEWLINE|, then <s>) and appends <0x04> (begin-of-answer) "
    "after the text; exactly one image per prompt (two raise ValueError), batches with images are "
    "always left-padded; pass return_legacy_image_output=False to get pixel_values instead of the "
    "deprecated image_patches. SentencePiece-like tokenizer (▁ for spaces, <0x0A> for newlines)."
)


# --------------------------------------------------------------------------- Gemma 3


def _build_gemma3(family: str, seed: int):
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, Gemma3ImageProcessor, Gemma3Processor

    img, patch, mm_tokens = 32, 8, 4  # 4x4 patches, avg-pooled to 2x2 = 4 image tokens
    named = {"boi_token": "<start_of_image>", "eoi_token": "<end_of_image>", "image_token": "<image_soft_token>"}
    tok = _byte_level_tokenizer(bos="<bos>", eos="<eos>", pad="<pad>", unk="<unk>", add_bos=True,
                                specials=["<start_of_image>", "<end_of_image>", "<image_soft_token>",
                                          "<start_of_turn>", "<end_of_turn>"], named=named)
    vocab = _vocab_size(tok)
    n = TINY_NUM_LAYERS[family]
    text = _llama_like_text(n, vocab, tok, head_dim=16, query_pre_attn_scalar=16, sliding_window=64,
                            layer_types=["sliding_attention"] * (n - 1) + ["full_attention"],
                            tie_word_embeddings=True)
    cfg = Gemma3Config(
        text_config=text,
        vision_config=dict(model_type="siglip_vision_model", hidden_size=_HIDDEN, intermediate_size=_INTER,
                           num_hidden_layers=2, num_attention_heads=_HEADS, image_size=img, patch_size=patch),
        mm_tokens_per_image=mm_tokens,
        boi_token_index=tok.convert_tokens_to_ids("<start_of_image>"),
        eoi_token_index=tok.convert_tokens_to_ids("<end_of_image>"),
        image_token_index=tok.convert_tokens_to_ids("<image_soft_token>"),
    )
    proc = Gemma3Processor(
        image_processor=Gemma3ImageProcessor(size={"height": img, "width": img}, do_pan_and_scan=False),
        tokenizer=tok,
        image_seq_length=mm_tokens,
    )
    torch.manual_seed(seed)
    return _finish(Gemma3ForConditionalGeneration(cfg), family, seed), proc


TINY_NOTES["gemma3"] = (
    "Prompt text <start_of_image>; it expands to '\\n\\n<start_of_image>' + 4x<image_soft_token> + "
    "'<end_of_image>\\n\\n'; the processor returns token_type_ids (image tokens attend "
    "bidirectionally: pass them to the model); processor.image_token_id is the BOI id, the "
    "config's image_token_index is <image_soft_token>; tokenizer prepends <bos>; last layer full "
    "attention, others sliding (window 64)."
)


# --------------------------------------------------------------------------- entry point

_BUILDERS: dict[str, Callable[[str, int], tuple]] = {
    "idefics3": _build_idefics3,
    "smolvlm": _build_idefics3,
    "idefics2": _build_idefics2,
    "llava": _build_llava,
    "llava_onevision": _build_llava_onevision,
    "qwen2_vl": _build_qwen_vl,
    "qwen2_5_vl": _build_qwen_vl,
    "fuyu": _build_fuyu,
    "gemma3": _build_gemma3,
    "llama": _build_text_only,
    "mistral": _build_text_only,
    "qwen2": _build_text_only,
}


# TINY_NOTES in the order of TINY_FAMILIES.
_notes = {f: TINY_NOTES[f] for f in TINY_FAMILIES}
TINY_NOTES.clear()
TINY_NOTES.update(_notes)
del _notes


def build_tiny(family: str, seed: int = 0) -> tuple[PreTrainedModel, Any]:
    """(model in eval mode, fp32, on CPU; processor for VLMs or tokenizer for text-only LMs).

    Random weights (seeded by ``seed``), built offline in well under 2 s.
    Raises ModelLoadError for an unknown family.
    """
    _check_family(family)
    try:
        return _BUILDERS[family](family, seed)
    except ImportError as exc:
        raise ModelLoadError(
            f"Cannot build the tiny {family} model: a package is missing ({exc}). "
            "Install the project's requirements (pip install -r requirements.txt)."
        ) from exc
