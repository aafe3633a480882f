"""Gemma 3n: AltUp's parallel residual streams, per-layer embeddings, KV sharing, sliding windows.

The trap. Between decoder layers the hidden state is not one (B, T, D) tensor but a stack of K
parallel streams, (K, B, T, D) (AltUp, ``altup_num_inputs`` = K): each decoder layer predicts all K
from each other, runs attention and MLP on the active stream only, and corrects all K. Before the
final norm the model merges them: streams 1..K-1 go through their ``altup_unembed_projections``, are
rescaled to the RMS magnitude of stream 0, and all K are averaged. So one stream, or the merged
vector, is not the residual state a layer reads. taskvec serves the whole state: the residual of one
position is the stack viewed as a (K*D,) vector (stream k is the k-th block of D), for hooks,
patches, captures and task vectors alike (a patch writes all K streams); ``hidden_size`` is K*D;
``lens`` and ``final_norm`` apply the model's own merge (its projections and norm) before the norm,
unembedding and softcap, so the lens at the last layer is the model's logits. Residual 0 is the
stack the first layer receives (the embedding and its K-1 projections).

Per-layer embeddings are not part of the residual: each decoder layer l receives a separate
per-layer input (a per-token embedding table plus a projection of the input embeddings, computed once
from the tokens before layer 0) and adds its gated projection to streams 1..K-1 inside the layer. A
patch at residual layer l therefore changes the streams at that position and leaves that position's
per-layer inputs (a function of its token) as they are, as the model defines them.

Capabilities. ``causal_prefix``: True — attention is causal (sliding-window layers see less, never
later tokens), AltUp, LAuReL, the per-layer inputs and the activation-sparsity MLPs act per token, and
KV-shared layers reuse the keys/values of an earlier layer of the same type, cached with the prefix;
tests/models/test_gemma3n_family.py checks the cached-prefix sweep against the per-layer loop on the
tiny weights with an 8-token window and prompts several windows long. ``packed_sweep``: False — sliding-window layers build their own masks from the
2-D mask; a custom 4-D mask would be used as is by every layer and drop the window.
"""

from __future__ import annotations

from functools import cached_property

import torch
from torch import nn

from taskvec.core.hooks import ResidualSites
from taskvec.models.generic import DeclaredAdapter
from taskvec.models.registry import Family, TinySpec, register_family


class AltUpMerge(nn.Module):
    """The model's own end of the decoder: K streams (..., K*D) -> merged -> final norm, (..., D).

    Holds the text model's ``altup_unembed_projections`` and ``norm`` (not copies: the same weights)."""

    def __init__(self, text_model: nn.Module, streams: int):
        super().__init__()
        self.projections, self.norm, self.k = text_model.altup_unembed_projections, text_model.norm, streams

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        s = h.unflatten(-1, (self.k, -1))  # (..., K, D)
        base = s[..., 0, :]  # (..., D)
        rms = torch.mean(base ** 2, dim=-1, keepdim=True) ** 0.5  # (..., 1)
        merged = [base]
        for k, proj in enumerate(self.projections, start=1):
            p = proj(s[..., k, :]).to(base.dtype).to(rms.device)  # (..., D)
            merged.append(p * rms / torch.sqrt(torch.mean(p ** 2, dim=-1, keepdim=True).clamp(min=1e-5)))
        return self.norm(torch.stack(merged).mean(0))  # (..., D)


class Gemma3nAdapter(DeclaredAdapter):
    """Gemma 3n: residuals are the K AltUp streams side by side, (B, T, K*D)."""

    packed_sweep = False  # sliding-window layers build their own masks; a custom 4-D mask would bypass them
    image_placeholder = "<image_soft_token>"  # the processor expands it to BOI + soft tokens + EOI
    image_token_names = ("<image_soft_token>",)
    images_nested = True

    @property
    def streams(self) -> int:
        return int(self.text_config.altup_num_inputs)

    @property
    def hidden_size(self) -> int:
        return self.streams * int(self.text_config.hidden_size)

    @cached_property
    def residual_sites(self) -> ResidualSites:
        k = self.streams
        return ResidualSites(
            self.decoder_layers,
            view=lambda h: h.permute(1, 2, 0, 3).flatten(2),  # (K, B, T, D) -> (B, T, K*D)
            unview=lambda v: v.unflatten(-1, (k, -1)).permute(2, 0, 1, 3).contiguous(),  # -> (K, B, T, D)
        )

    @cached_property
    def final_norm(self) -> nn.Module:
        """The streams' merge then the final norm: (..., K*D) -> (..., D)."""
        return AltUpMerge(self.model.get_decoder(), self.streams)


TINY = {
    "gemma3n": TinySpec(4, (
        "Prompt text <image_soft_token>; it expands to '\\n\\n<start_of_image>' + 4x<image_soft_token> + "
        "'<end_of_image>\\n\\n' (64x64 px SigLIP preprocessing; timm's tiny test_convnext stands in for the "
        "MobileNet-V5 tower: 2x2 feature map = 4 soft tokens); the processor returns token_type_ids; tokenizer "
        "prepends <bos>; AltUp with K=4 streams of 32 (residual width 128); per-layer inputs of 8; layers "
        "sliding (window 64), full, sliding, full, the last two reusing KV of the first two; layer 0's MLP with "
        "0.95 activation sparsity; final-logit softcap 30. Needs timm."
    )),
}


def build_tiny(model_type: str, seed: int):
    """(tiny random Gemma 3n model, its processor)."""
    import importlib.util

    if importlib.util.find_spec("timm") is None:
        from taskvec.errors import ModelLoadError

        raise ModelLoadError("tiny-random/gemma3n needs timm (Gemma 3n's vision tower is a timm model; the tiny "
                             "build uses timm's test_convnext): pip install timm==1.0.31 (requirements-dev.txt).")
    from transformers import (Gemma3nAudioFeatureExtractor, Gemma3nConfig, Gemma3nForConditionalGeneration,
                              Gemma3nProcessor, SiglipImageProcessor)

    from taskvec.testing.builders import HEADS, HIDDEN, INTER, byte_level_tokenizer, finish

    img, soft = 64, 4  # test_convnext: 64x64 px -> 2x2 features, 64 channels
    # ids: text tokens first, then the vision tokens (offset V0), then the audio tokens (offset V0 + 2), as in the
    # hub tokenizer, whose per-layer table covers text ids only
    text_specials = ["<start_of_image>", "<start_of_audio>", "<start_of_turn>", "<end_of_turn>"]
    vision, audio = ["<end_of_image>", "<image_soft_token>"], ["<end_of_audio>", "<audio_soft_token>"]
    named = {"boi_token": "<start_of_image>", "eoi_token": "<end_of_image>", "image_token": "<image_soft_token>",
             "boa_token": "<start_of_audio>", "eoa_token": "<end_of_audio>", "audio_token": "<audio_soft_token>"}
    tok = byte_level_tokenizer(bos="<bos>", eos="<eos>", pad="<pad>", unk="<unk>", add_bos=True,
                               specials=text_specials + vision + audio, named=named)
    ids = {t: tok.convert_tokens_to_ids(t) for t in named.values()}
    v0 = ids["<end_of_image>"]
    assert [ids[t] for t in vision + audio] == list(range(v0, v0 + 4)) and len(tok) == v0 + 4
    n = TINY[model_type].layers
    text = dict(
        vocab_size=len(tok), vocab_size_per_layer_input=v0, hidden_size=HIDDEN, hidden_size_per_layer_input=8,
        intermediate_size=INTER, num_hidden_layers=n, num_attention_heads=HEADS, num_key_value_heads=1, head_dim=16,
        max_position_embeddings=512, sliding_window=64, layer_types=["sliding_attention", "full_attention"] * (n // 2),
        num_kv_shared_layers=n // 2, laurel_rank=4, altup_num_inputs=4, activation_sparsity_pattern=[0.95] + [0.0] * (n - 1),
        pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
    )
    cfg = Gemma3nConfig(
        text_config=text,
        vision_config=dict(architecture="test_convnext", hidden_size=64, vocab_size=2, vocab_offset=v0),
        audio_config=dict(hidden_size=HIDDEN, vocab_size=2, vocab_offset=v0 + 2, conf_num_attention_heads=HEADS,
                          conf_num_hidden_layers=1, sscp_conv_channel_size=[8, 4], input_feat_size=128),
        vision_soft_tokens_per_image=soft, audio_soft_tokens_per_image=4,
        boi_token_id=ids["<start_of_image>"], eoi_token_id=ids["<end_of_image>"],
        image_token_id=ids["<image_soft_token>"], boa_token_id=ids["<start_of_audio>"],
        eoa_token_id=ids["<end_of_audio>"], audio_token_id=ids["<audio_soft_token>"],
    )
    proc = Gemma3nProcessor(
        feature_extractor=Gemma3nAudioFeatureExtractor(),
        image_processor=SiglipImageProcessor(size={"height": img, "width": img}),
        tokenizer=tok, image_seq_length=soft, audio_seq_length=4,
    )
    torch.manual_seed(seed)
    return finish(Gemma3nForConditionalGeneration(cfg), model_type, seed), proc


FAMILY = register_family(Family(
    name="gemma3n",
    model_types=("gemma3n",),
    adapter=Gemma3nAdapter,
    text_only=False,
    build_tiny=build_tiny,
    tiny=TINY,
    suggested={"google/gemma-3n-E2B-it": "gemma3n"},
))
