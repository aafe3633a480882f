"""The organism's processor: text + images -> ``input_ids``, ``attention_mask``, ``pixel_values``.

Each ``<image>`` placeholder in the text becomes ``<img>`` + ``image_seq_len`` x ``<imgpatch>``
+ ``</img>`` (docs/ARCHITECTURE.md); images are resized to ``image_size`` x ``image_size``
RGB, scaled to [-1, 1], and stacked ``(n_images, 3, H, W)`` in prompt order (row by row of
the batch). ``decode`` / ``batch_decode`` pass through to the tokenizer.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import BatchFeature, PreTrainedTokenizerFast

from taskvec.organism.tokenization import IMAGE, IMG_END, IMG_START, PATCH

PROCESSOR_CONFIG = "processor_config.json"


class OrganismProcessor:
    image_token = IMAGE

    def __init__(self, tokenizer: PreTrainedTokenizerFast, image_size: int = 32, image_seq_len: int = 4):
        self.tokenizer = tokenizer
        self.image_size = int(image_size)
        self.image_seq_len = int(image_seq_len)
        self.image_token_id = tokenizer.convert_tokens_to_ids(IMAGE)
        self.image_patch_token_id = tokenizer.convert_tokens_to_ids(PATCH)
        self.img_start_token_id = tokenizer.convert_tokens_to_ids(IMG_START)
        self.img_end_token_id = tokenizer.convert_tokens_to_ids(IMG_END)

    # ---- images -------------------------------------------------------------------------
    def image_to_array(self, image) -> np.ndarray:
        """Any PIL image (or HxWx3 uint8 array) -> (3, S, S) float32 in [0, 1]."""
        if isinstance(image, np.ndarray):
            image = Image.fromarray(image)
        if not isinstance(image, Image.Image):
            raise TypeError(f"Expected a PIL.Image.Image, got {type(image).__name__}. Open files with PIL first.")
        img = image.convert("RGB").resize((self.image_size, self.image_size), Image.BILINEAR)
        return np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0

    def pixel_values(self, images) -> torch.Tensor:
        arr = np.stack([self.image_to_array(im) for im in images])  # (N, 3, S, S)
        return (torch.from_numpy(arr) - 0.5) / 0.5

    def expand_text(self, text: str) -> str:
        block = IMG_START + PATCH * self.image_seq_len + IMG_END
        return text.replace(IMAGE, block)

    # ---- main entry ---------------------------------------------------------------------
    def __call__(self, text=None, images=None, return_tensors="pt", padding=False, **kwargs) -> BatchFeature:
        if text is None:
            raise ValueError("The organism processor needs text (use '<image>' where each image goes).")
        texts = [text] if isinstance(text, str) else list(text)
        flat = _flatten(images)
        n_slots = sum(t.count(IMAGE) for t in texts)
        if n_slots != len(flat):
            raise ValueError(
                f"The text has {n_slots} '{IMAGE}' placeholders but {len(flat)} images were given. "
                f"Put one '{IMAGE}' in the text for each image, in order."
            )
        enc = self.tokenizer(
            [self.expand_text(t) for t in texts], padding=padding, return_tensors=return_tensors, **kwargs
        )
        data = dict(enc)
        if flat:
            pv = self.pixel_values(flat)
            data["pixel_values"] = pv if return_tensors == "pt" else pv.numpy()
        return BatchFeature(data=data, tensor_type=return_tensors if return_tensors == "pt" else None)

    def decode(self, *args, **kwargs):
        return self.tokenizer.decode(*args, **kwargs)

    def batch_decode(self, *args, **kwargs):
        return self.tokenizer.batch_decode(*args, **kwargs)

    # ---- persistence --------------------------------------------------------------------
    def save_pretrained(self, directory) -> None:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(d)
        cfg = {
            "processor_class": "OrganismProcessor",
            "image_size": self.image_size,
            "image_seq_len": self.image_seq_len,
            "image_token": IMAGE,
            "image_mean": [0.5, 0.5, 0.5],
            "image_std": [0.5, 0.5, 0.5],
        }
        (d / PROCESSOR_CONFIG).write_text(json.dumps(cfg, indent=2) + "\n")

    @classmethod
    def from_pretrained(cls, directory) -> "OrganismProcessor":
        d = Path(directory)
        cfg = json.loads((d / PROCESSOR_CONFIG).read_text())
        tok = PreTrainedTokenizerFast.from_pretrained(d)
        tok.padding_side = "right"
        return cls(tok, image_size=cfg["image_size"], image_seq_len=cfg["image_seq_len"])


def _flatten(images) -> list:
    if images is None:
        return []
    if isinstance(images, (list, tuple)):
        out = []
        for im in images:
            out.extend(_flatten(im))
        return out
    return [images]
