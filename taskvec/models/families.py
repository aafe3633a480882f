"""One adapter per model family: only architecture facts live here."""

from __future__ import annotations

import torch

from taskvec.errors import UnsupportedInputError
from taskvec.core.prompts import Prompt
from taskvec.models.base import Adapter, Encoded


class CausalLMAdapter(Adapter):
    """Text-only decoder LMs (Llama, Mistral, Qwen2, SmolLM2, Vicuna): the base LLMs of VLMs."""

    family = "causal-lm"


class Idefics3Adapter(Adapter):
    """Idefics3 / SmolVLM / SmolVLM2: decoder at model.model.text_model; image splitting off."""

    family = "idefics3"
    image_placeholder = "<image>"
    image_token_names = ("<image>",)
    images_nested = True


class Idefics2Adapter(Idefics3Adapter):
    family = "idefics2"


class LlavaAdapter(Adapter):
    """LLaVA-1.5: one <image> expands into the vision tower's patch tokens."""

    family = "llava"
    image_placeholder = "<image>"
    image_token_names = ("<image>",)


class LlavaOnevisionAdapter(LlavaAdapter):
    family = "llava_onevision"


class Qwen2VLAdapter(Adapter):
    """Qwen2-VL / Qwen2.5-VL: 3-D rotary positions, computed once per prompt and passed explicitly."""

    family = "qwen2_vl"
    image_placeholder = "<|vision_start|><|image_pad|><|vision_end|>"
    image_token_names = ("<|image_pad|>",)

    def position_ids(self, enc: Encoded) -> torch.Tensor | None:
        inp = enc.inputs
        if "image_grid_thw" not in inp:
            return None  # text only: 1-D positions from the cache position, as usual
        inner = self.model.model
        pos, _ = inner.get_rope_index(
            inp["input_ids"], mm_token_type_ids=inp.get("mm_token_type_ids"),
            image_grid_thw=inp.get("image_grid_thw"), attention_mask=inp.get("attention_mask"),
        )
        return pos  # (3, B, T)


class FuyuAdapter(Adapter):
    """Fuyu (early fusion): the processor puts one image before the text; LayerNorm final norm."""

    family = "fuyu"
    norm_paths = ("model.language_model.final_layernorm",)
    image_placeholder = ""  # the image goes first, whatever its place in the prompt
    image_token_names = ("|SPEAKER|",)
    per_position_keys = ("attention_mask", "image_patches_indices")
    image_batch_size = 1  # its processor left-pads batches with images

    def render(self, prompt: Prompt):
        text, images = super().render(prompt)
        if len(images) > 1:
            raise UnsupportedInputError(
                "Fuyu takes one image per prompt (placed before the text), so image-example prompts "
                "cannot be built; use text examples or an instruction with an image query."
            )
        return text, images

    def processor_call(self, texts, images):
        if not any(images):
            return super().processor_call(texts, images)
        if not all(images):
            raise UnsupportedInputError("Fuyu cannot batch prompts with and without images; run them separately.")
        return dict(self.processor(text=texts, images=[row[0] for row in images], return_tensors="pt", padding=True))


class Gemma3Adapter(Adapter):
    """Gemma 3: scaled embeddings (inside embed_tokens) and optional final logit softcapping."""

    family = "gemma3"
    packed_sweep = False  # sliding-window layers build their own masks; a custom 4-D mask would bypass them
    image_placeholder = "<start_of_image>"
    image_token_names = ("<image_soft_token>",)
    images_nested = True


class OrganismAdapter(Adapter):
    """taskvec's own trained model organism (early fusion, Llama-like layout)."""

    family = "organism"
    packed_sweep = False  # its attention takes 2-D padding masks only
    layer_paths = ("model.layers",)
    norm_paths = ("model.norm",)
    image_placeholder = "<image>"
    image_token_names = ("<imgpatch>",)


# model_type (config) -> adapter class
ADAPTERS: dict[str, type[Adapter]] = {
    "llama": CausalLMAdapter, "mistral": CausalLMAdapter, "qwen2": CausalLMAdapter,
    "idefics3": Idefics3Adapter, "smolvlm": Idefics3Adapter, "idefics2": Idefics2Adapter,
    "llava": LlavaAdapter, "llava_onevision": LlavaOnevisionAdapter,
    "qwen2_vl": Qwen2VLAdapter, "qwen2_5_vl": Qwen2VLAdapter,
    "fuyu": FuyuAdapter, "gemma3": Gemma3Adapter, "taskvec-organism": OrganismAdapter,
}
