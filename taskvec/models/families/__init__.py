"""One module per model family: its adapter, model types, loading facts, suggested checkpoints
and tiny random-weight build. Each module registers itself with ``taskvec.models.registry``.

``FAMILY_MODULES`` lists them in display order (the model picker, ``TINY_FAMILIES``); a test
checks that it names every module in this folder.
"""

FAMILY_MODULES: tuple[str, ...] = (
    "idefics3",
    "idefics2",
    "llava",
    "llava_onevision",
    "llava_style",
    "mistral3",
    "internvl",
    "aya_vision",
    "qwen2_vl",
    "qwen3_vl",
    "glm4v",
    "qwen3_5",
    "lfm2_vl",
    "molmo2",
    "fuyu",
    "gemma3",
    "gemma3n",
    "gemma4",
    "paligemma",
    "mllama",
    "llama4",
    "deepseek_vl",
    "perception_lm",
    "cohere2_vision",
    "gemma3_text",
    "causal_lm",
)
