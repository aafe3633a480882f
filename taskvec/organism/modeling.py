"""The organism's model: a tiny decoder-only VLM laid out like a Llama-style LM.

Contract (docs/ARCHITECTURE.md): ``model.model.embed_tokens``, ``model.model.layers``
(blocks called as ``block(hidden_states, ...)`` returning a bare ``(B, T, D)`` tensor),
``model.model.norm`` (final norm), ``model.lm_head`` (tied to the embeddings). Positions
are ``past_length + arange(T)``; keys masked by the 2-D ``attention_mask`` so right-padded
batches and KV-cached steps are exact. Images: a small ViT over ``patch_size`` patches,
pooled to ``image_seq_len`` tokens, projected and written over the ``<imgpatch>`` positions.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, PretrainedConfig, PreTrainedModel
from transformers.cache_utils import Cache, DynamicCache
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast


class OrganismConfig(PretrainedConfig):
    model_type = "taskvec-organism"

    def __init__(
        self,
        vocab_size: int = 1024,
        hidden_size: int = 128,
        num_hidden_layers: int = 6,
        num_attention_heads: int = 4,
        intermediate_size: int = 512,
        max_position_embeddings: int = 512,
        image_size: int = 32,
        patch_size: int = 8,
        vision_hidden_size: int = 96,
        vision_layers: int = 1,
        image_seq_len: int = 4,
        image_token_id: int = 2,
        img_start_token_id: int = 3,
        img_end_token_id: int = 4,
        image_patch_token_id: int = 5,
        pad_token_id: int = 0,
        layer_norm_eps: float = 1e-5,
        initializer_range: float = 0.02,
        tie_word_embeddings: bool = True,
        **kwargs,
    ):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.max_position_embeddings = max_position_embeddings
        self.image_size = image_size
        self.patch_size = patch_size
        self.vision_hidden_size = vision_hidden_size
        self.vision_layers = vision_layers
        self.image_seq_len = image_seq_len
        self.image_token_id = image_token_id
        self.img_start_token_id = img_start_token_id
        self.img_end_token_id = img_end_token_id
        self.image_patch_token_id = image_patch_token_id
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        super().__init__(pad_token_id=pad_token_id, tie_word_embeddings=tie_word_embeddings, **kwargs)


class MLP(nn.Module):
    def __init__(self, d: int, d_ff: int):
        super().__init__()
        self.fc = nn.Linear(d, d_ff)
        self.proj = nn.Linear(d_ff, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(F.gelu(self.fc(x)))


class SelfAttention(nn.Module):
    def __init__(self, d: int, n_heads: int, layer_idx: int | None = None):
        super().__init__()
        self.n_heads, self.layer_idx = n_heads, layer_idx
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)

    def forward(self, x, mask=None, past_key_values: Cache | None = None):
        B, T, D = x.shape
        q, k, v = self.qkv(x).split(D, dim=-1)  # (B, T, D) each
        q, k, v = (t.view(B, T, self.n_heads, D // self.n_heads).transpose(1, 2) for t in (q, k, v))
        if past_key_values is not None:
            k, v = past_key_values.update(k, v, self.layer_idx)  # (B, H, S, hd)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, H, T, hd)
        return self.out(y.transpose(1, 2).reshape(B, T, D))


class OrganismBlock(nn.Module):
    """Pre-LN transformer block. ``forward(hidden_states, ...) -> (B, T, D)`` tensor."""

    def __init__(self, config: OrganismConfig, layer_idx: int):
        super().__init__()
        d = config.hidden_size
        self.layer_idx = layer_idx
        self.ln_1 = nn.LayerNorm(d, eps=config.layer_norm_eps)
        self.attn = SelfAttention(d, config.num_attention_heads, layer_idx)
        self.ln_2 = nn.LayerNorm(d, eps=config.layer_norm_eps)
        self.mlp = MLP(d, config.intermediate_size)

    def forward(self, hidden_states, attention_mask=None, past_key_values=None, **kwargs):
        h = hidden_states + self.attn(self.ln_1(hidden_states), attention_mask, past_key_values)
        return h + self.mlp(self.ln_2(h))  # (B, T, D)


class VisionTower(nn.Module):
    """Patches -> linear -> non-causal blocks -> pool to image_seq_len tokens -> MLP projector."""

    def __init__(self, config: OrganismConfig):
        super().__init__()
        p, dv = config.patch_size, config.vision_hidden_size
        self.grid = config.image_size // p
        self.pool = int(math.isqrt(config.image_seq_len))
        if self.pool**2 != config.image_seq_len or self.grid % self.pool:
            raise ValueError(
                f"image_seq_len must be a square dividing the patch grid; got {config.image_seq_len} "
                f"for a {self.grid}x{self.grid} grid."
            )
        self.patch_size = p
        self.patch_embed = nn.Linear(3 * p * p, dv)
        self.pos = nn.Parameter(torch.zeros(self.grid * self.grid, dv))
        self.blocks = nn.ModuleList(
            [_VisionBlock(dv, max(1, dv // 32)) for _ in range(config.vision_layers)]
        )
        self.ln = nn.LayerNorm(dv)
        self.projector = nn.Sequential(
            nn.Linear(dv, config.hidden_size), nn.GELU(), nn.Linear(config.hidden_size, config.hidden_size)
        )
        self.image_size = config.image_size

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        x = pixel_values
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        N, p, g = x.shape[0], self.patch_size, self.grid
        patches = x.unfold(2, p, p).unfold(3, p, p)  # (N, 3, g, g, p, p)
        patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(N, g * g, 3 * p * p)
        h = self.patch_embed(patches) + self.pos  # (N, g*g, Dv)
        for blk in self.blocks:
            h = blk(h)
        h = self.ln(h).view(N, g, g, -1).permute(0, 3, 1, 2)  # (N, Dv, g, g)
        h = F.adaptive_avg_pool2d(h, self.pool).flatten(2).transpose(1, 2)  # (N, s, Dv)
        return self.projector(h)  # (N, s, D)


class _VisionBlock(nn.Module):
    def __init__(self, d: int, n_heads: int):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = SelfAttention(d, n_heads)
        self.mlp = MLP(d, 2 * d)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class OrganismPreTrainedModel(PreTrainedModel):
    config_class = OrganismConfig
    config: OrganismConfig
    base_model_prefix = "model"
    _no_split_modules = ["OrganismBlock"]
    _supports_sdpa = True

    @torch.no_grad()
    def _init_weights(self, module):
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, VisionTower):
            nn.init.normal_(module.pos, mean=0.0, std=std)


class OrganismModel(OrganismPreTrainedModel):
    def __init__(self, config: OrganismConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.embed_positions = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.vision = VisionTower(config)
        self.layers = nn.ModuleList([OrganismBlock(config, i) for i in range(config.num_hidden_layers)])
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.post_init()

    def get_input_embeddings(self):
        return self.embed_tokens

    def set_input_embeddings(self, value):
        self.embed_tokens = value

    def embed(self, input_ids, pixel_values=None, position_ids=None, past_length: int = 0):
        """Token + image + position embeddings: the residual stream at layer 0."""
        h = self.embed_tokens(input_ids)  # (B, T, D)
        if pixel_values is not None:
            is_patch = input_ids == self.config.image_patch_token_id  # (B, T)
            n = int(is_patch.sum())
            if n:
                img = self.vision(pixel_values.to(h.dtype)).reshape(-1, h.shape[-1])  # (N*s, D)
                if img.shape[0] != n:
                    raise ValueError(
                        f"Expected pixel_values for {n // self.config.image_seq_len} images (one per "
                        f"<img> block in input_ids), got {pixel_values.shape[0]}. Build inputs with the "
                        "organism processor so that every <image> placeholder has one image."
                    )
                h = h.masked_scatter(is_patch.unsqueeze(-1), img)
        if position_ids is None:
            position_ids = past_length + torch.arange(input_ids.shape[1], device=input_ids.device)
            position_ids = position_ids.unsqueeze(0)
        if int(position_ids.max()) >= self.config.max_position_embeddings:
            raise ValueError(
                f"Sequence reaches position {int(position_ids.max())}, the organism has "
                f"{self.config.max_position_embeddings} positions. Use a shorter prompt."
            )
        return h + self.embed_positions(position_ids)

    def forward(
        self,
        input_ids=None,
        pixel_values=None,
        attention_mask=None,
        past_key_values=None,
        use_cache=None,
        position_ids=None,
        inputs_embeds=None,
        **kwargs,
    ):
        if use_cache is None:
            use_cache = bool(getattr(self.config, "use_cache", True))
        if use_cache and past_key_values is None:
            past_key_values = DynamicCache()
        past = past_key_values.get_seq_length() if past_key_values is not None else 0
        if inputs_embeds is None:
            h = self.embed(input_ids, pixel_values, position_ids, past)
        else:
            h = inputs_embeds
        B, T, _ = h.shape
        mask = _attention_mask(attention_mask, B, T, past, h.device)
        for layer in self.layers:
            h = layer(h, attention_mask=mask, past_key_values=past_key_values)  # by name: hooks read them
        h = self.norm(h)
        return BaseModelOutputWithPast(last_hidden_state=h, past_key_values=past_key_values if use_cache else None)


def _attention_mask(attention_mask, B: int, T: int, past: int, device) -> torch.Tensor:
    """Boolean (B, 1, T, past+T): causal, and keys that the 2-D attention_mask marks as padding hidden.

    A 4-D ``attention_mask`` ((B or 1, 1, T, past+T), boolean or additive with 0 = visible) is taken
    as the whole mask, causality included: packed sequences (taskvec's one-pass layer sweep)."""
    S = past + T
    if attention_mask is not None and attention_mask.dim() == 4:
        m = attention_mask.to(device)
        allowed = m if m.dtype == torch.bool else m == 0
        if allowed.shape[-2:] != (T, S):
            raise ValueError(f"a 4-D attention_mask should end in (new, past+new) = {(T, S)}, got {tuple(m.shape)}.")
        return allowed.expand(B, 1, T, S)
    q_pos = past + torch.arange(T, device=device)
    allowed = torch.arange(S, device=device)[None, :] <= q_pos[:, None]  # (T, S)
    allowed = allowed[None, None].expand(B, 1, T, S)
    if attention_mask is not None:
        am = attention_mask.to(device).bool()
        if am.shape[1] == T and past:
            am = torch.cat([torch.ones(B, past, dtype=torch.bool, device=device), am], dim=1)
        if am.shape != (B, S):
            raise ValueError(f"attention_mask should be (batch, past+new) = {(B, S)}, got {tuple(am.shape)}.")
        allowed = allowed & am[:, None, None, :]
        # A row with no visible key (a padding query before any token) would give NaN: let it see itself.
        allowed = allowed | (~allowed.any(-1, keepdim=True) & (torch.arange(S, device=device) == q_pos[:, None]))
    return allowed


class OrganismForCausalLM(OrganismPreTrainedModel, GenerationMixin):
    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}

    def __init__(self, config: OrganismConfig):
        super().__init__(config)
        self.model = OrganismModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_input_embeddings(self):
        return self.model.embed_tokens

    def set_input_embeddings(self, value):
        self.model.embed_tokens = value

    def get_output_embeddings(self):
        return self.lm_head

    def set_output_embeddings(self, new):
        self.lm_head = new

    def forward(
        self,
        input_ids=None,
        pixel_values=None,
        attention_mask=None,
        past_key_values=None,
        use_cache=None,
        position_ids=None,
        labels=None,
        inputs_embeds=None,
        logits_to_keep: int | torch.Tensor = 0,
        **kwargs,
    ) -> CausalLMOutputWithPast:
        out = self.model(
            input_ids=input_ids,
            pixel_values=pixel_values,
            attention_mask=attention_mask,
            past_key_values=past_key_values,
            use_cache=use_cache,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
        )
        h = out.last_hidden_state
        if torch.is_tensor(logits_to_keep):  # these positions (1-D), as transformers' models take it
            h = h[:, logits_to_keep.to(h.device)]
        elif logits_to_keep:  # the last k positions; 0 = all
            h = h[:, -logits_to_keep:]
        logits = self.lm_head(h)  # (B, T, V)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]).float(), labels[:, 1:].reshape(-1), ignore_index=-100
            )
        return CausalLMOutputWithPast(loss=loss, logits=logits, past_key_values=out.past_key_values)
