"""The mechanics invariants of the test suite, run on any loaded checkpoint (``python -m taskvec check``).

Each check measures a max abs difference between two computations that must agree and
compares it with a tolerance for the model's dtype (fp32 tight; fp16/bf16 looser: 10 and 7
mantissa bits, and batched vs single kernels round differently):

- ``identity_patch``: writing a prompt's own residual back at its delimiter leaves the logits unchanged;
- ``lens_last_layer``: the logit lens of the last residual layer equals the model's logits;
- ``sweep_vs_loop``: the batched ``layer_sweep`` equals one full forward per layer (``naive_sweep``);
- ``delimiter_text`` / ``delimiter_image``: the delimiter is the ``:`` of the last ``A:`` in a text
  prompt and (VLMs) in a prompt with images; a text-only model refuses an image with a clear error;
- ``prefill_only``: ``generate`` with a patch == greedy decoding that recomputes the sequence with the
  patch at the prompt's delimiter only (so generated tokens are never patched);
- ``no_hook_after_raise``: a call that raises inside a patched forward leaves no hook and unchanged logits.

``quick=True`` runs a subset (three layers instead of all, two generated tokens): the app's banner.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch
from PIL import Image

from taskvec.core.activations import residuals
from taskvec.core.hooks import Edit, Patch, hooked_modules, intervene
from taskvec.core.patching import first_token_logits, generate, make_patch
from taskvec.core.prompts import icl_prompt, query_prompt
from taskvec.core.sweep import layer_sweep, naive_sweep
from taskvec.errors import UnsupportedInputError
from taskvec.models.base import Adapter

# dtype -> (atol, rtol); the tolerance of a comparison is atol + rtol * max|reference|
TOLERANCES = {torch.float32: (1e-3, 1e-4), torch.float16: (5e-2, 1e-2), torch.bfloat16: (2.5e-1, 2e-2)}
PAIRS = (("France", "Paris"), ("Italy", "Rome"), ("Peru", "Lima"), ("Japan", "Tokyo"))


@dataclass
class CheckResult:
    """One invariant: ``max_abs_diff`` against ``tolerance`` (None for an exact, non-numeric check)."""

    name: str
    passed: bool
    max_abs_diff: float | None
    tolerance: float | None
    detail: str
    seconds: float = 0.0


@dataclass
class CheckReport:
    """Every invariant on one checkpoint; ``passed`` only if all passed."""

    model: str
    dtype: str
    quick: bool
    results: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)

    @property
    def failed(self) -> list[str]:
        return [r.name for r in self.results if not r.passed]

    def rows(self) -> list[dict]:
        return [{"model": self.model, "dtype": self.dtype, **asdict(r)} for r in self.results]

    def verdict(self) -> str:
        n = len(self.results)
        if self.passed:
            return f"mechanics verified on this checkpoint ({n}/{n} invariants{', quick subset' if self.quick else ''})"
        return f"mechanics check FAILED on this checkpoint: {', '.join(self.failed)}"


def tolerance(dtype: torch.dtype, reference: torch.Tensor) -> float:
    atol, rtol = TOLERANCES.get(dtype, TOLERANCES[torch.bfloat16])
    return atol + rtol * float(reference.abs().max())


def _diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().max())


def _numeric(name: str, adapter: Adapter, pairs: list[tuple[torch.Tensor, torch.Tensor]], detail: str) -> CheckResult:
    """Max abs diff over (got, reference) pairs against the dtype tolerance of the largest reference."""
    diff = max(_diff(g, r) for g, r in pairs)
    tol = max(tolerance(adapter.dtype, r) for _, r in pairs)
    return CheckResult(name, diff <= tol, diff, tol, detail)


def _layers(adapter: Adapter, quick: bool) -> list[int]:
    L = adapter.n_layers
    return sorted({0, L // 2, L}) if quick else list(range(L + 1))


def check_identity_patch(adapter: Adapter, quick: bool) -> CheckResult:
    """Row i of one batched forward has its own residual written back at layer ``layers[i]``."""
    q = query_prompt("Spain")
    own = residuals(adapter, [q]).values[0, :, 0]  # (L+1, D) at the delimiter
    base = first_token_logits(adapter, q)  # (V,)
    layers = _layers(adapter, quick)
    enc = adapter.encode([q] * len(layers))
    last = int(enc.lengths[0]) - 1
    patches = [Patch(l, enc.delimiters[i:i + 1], own[l].to(adapter.device, adapter.dtype),
                     rows=torch.tensor([i], device=adapter.device)) for i, l in enumerate(layers)]
    with torch.no_grad(), intervene(adapter.residual_sites, patches):
        logits = adapter.model(**adapter.full_inputs(enc), use_cache=False).logits[:, last].float()  # (N, V)
    return _numeric("identity_patch", adapter, [(logits[i], base) for i in range(len(layers))],
                    f"own residual written back at {len(layers)} layers (one row per layer, one batched forward)")


def check_lens(adapter: Adapter, quick: bool) -> CheckResult:
    q = query_prompt("Spain")
    last = int(adapter.encode([q]).lengths[0]) - 1
    h = residuals(adapter, [q], positions=[[last]]).values[0, -1, 0]  # (D,) output of the last decoder layer
    return _numeric("lens_last_layer", adapter, [(adapter.lens(h), first_token_logits(adapter, q))],
                    "final norm + unembedding (+ softcap) of layer L vs the logits")


def check_sweep(adapter: Adapter, quick: bool) -> CheckResult:
    src = residuals(adapter, [icl_prompt(PAIRS[:3], "Chile")]).values[0, :, 0]  # (L+1, D) a real task vector
    q = query_prompt("Spain")
    layers = _layers(adapter, quick)
    fast = layer_sweep(adapter, q, src, layers=layers).logits  # (N, V)
    slow = naive_sweep(adapter, q, src, layers=layers).logits
    strategy = ("per-layer loop (no declared causal prefix)" if not adapter.causal_prefix else
                "joined one-row" if adapter.joined_sweep else "packed one-row" if adapter.packed_sweep else
                "repeated-cache")
    return _numeric("sweep_vs_loop", adapter, [(fast, slow)], f"{strategy} sweep vs one forward per layer, "
                    f"{len(layers)} layers")


def _delimiter_ok(adapter: Adapter, prompt) -> tuple[bool, str]:
    enc = adapter.encode([prompt])
    ids = enc.input_ids[0, : int(enc.lengths[0])].tolist()
    d = int(enc.delimiters[0])
    before = adapter.tokenizer.decode(ids[: d + 1])
    after_colon = any(adapter.decode_token(t).strip().endswith(":") for t in ids[d + 1:])
    ok = adapter.decode_token(ids[d]).strip().endswith(":") and before.rstrip().endswith("A:") and not after_colon
    return ok, f"position {d} of {len(ids)}: ...{before[-12:]!r}"


def check_delimiter_text(adapter: Adapter, quick: bool) -> CheckResult:
    ok, where = _delimiter_ok(adapter, icl_prompt(PAIRS, "Chile"))
    return CheckResult("delimiter_text", ok, None, None, f"':' of the last 'A:' at {where}")


def _image(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8))  # (H, W, 3)


def check_delimiter_image(adapter: Adapter, quick: bool) -> CheckResult:
    if not adapter.supports_images:
        try:
            adapter.encode([query_prompt(_image(0))])
        except UnsupportedInputError as e:
            return CheckResult("delimiter_image", True, None, None, f"text-only model: an image is refused ({e})")
        return CheckResult("delimiter_image", False, None, None, "a text-only model accepted an image")
    try:
        prompt = icl_prompt([(_image(1), "Paris"), (_image(2), "Rome")], _image(3))
        ok, where = _delimiter_ok(adapter, prompt)
        what = "with 3 images"
    except UnsupportedInputError as e:  # one image per prompt (Fuyu): text examples and an image query
        prompt = icl_prompt(PAIRS, _image(3))
        ok, where = _delimiter_ok(adapter, prompt)
        what = f"image examples refused ({str(e).split(';')[0]}); text examples + 1 image query"
    # the adapter finds the image feature tokens (context embeddings need them) ...
    enc = adapter.encode([prompt])
    ids = enc.input_ids[0, : int(enc.lengths[0])].tolist()
    if adapter.images_are_tokens:
        runs = adapter.image_runs(ids)
        found, tokens = bool(runs), f"{len(runs)} run(s) of image tokens ({sum(map(len, runs))} tokens)"
    else:  # images enter by cross-attention (mllama): image positions must be refused, not guessed
        try:
            adapter.image_runs(ids)
            found, tokens = False, "image runs returned for a model whose images are not tokens"
        except UnsupportedInputError:
            found, tokens = True, "images are not tokens (cross-attention): image positions refused"
    # ... and the model runs on that layout (image features fill exactly the placeholder tokens)
    finite = bool(torch.isfinite(first_token_logits(adapter, prompt)).all())
    return CheckResult("delimiter_image", ok and finite and found, None, None,
                       f"{what}: ':' of the last 'A:' at {where}; {tokens}; forward on it {'ok' if finite else 'NOT FINITE'}")


def check_prefill_only(adapter: Adapter, quick: bool) -> CheckResult:
    q = query_prompt("Spain")
    src = residuals(adapter, [icl_prompt(PAIRS[:3], "Chile")]).values[0, :, 0]  # (L+1, D)
    layer = adapter.n_layers // 2
    gen = generate(adapter, q, src, layer, max_new_tokens=2 if quick else 4)
    enc = adapter.encode([q])
    seq: list[int] = []
    for _ in gen.token_ids:  # recompute the whole sequence each step, patch at the prompt's delimiter only
        inputs = adapter.extend_inputs(enc.inputs, torch.tensor([seq], dtype=torch.long, device=adapter.device))
        with torch.no_grad(), intervene(adapter.residual_sites, [make_patch(adapter, enc, src, layer)]):
            seq.append(int(adapter.model(**inputs, use_cache=False).logits[0, -1].argmax()))
    ok = gen.token_ids == seq
    return CheckResult("prefill_only", ok, None, None, f"patched at layer {layer}: generate {gen.token_ids} "
                       f"{'==' if ok else '!='} recomputed {seq}")


def check_no_hook_after_raise(adapter: Adapter, quick: bool) -> CheckResult:
    q = query_prompt("Spain")
    before = first_token_logits(adapter, q)
    boom = RuntimeError("taskvec check: raised on purpose inside a patched forward")

    def raising(hidden):
        raise boom

    raised = False
    try:
        first_token_logits(adapter, q, lambda enc: [make_patch(adapter, enc, torch.zeros(adapter.hidden_size), 1),
                                                    Edit(adapter.n_layers, raising)])
    except RuntimeError as e:
        raised = e is boom
    left = hooked_modules(adapter.model)
    diff = _diff(first_token_logits(adapter, q), before)
    ok = raised and not left and diff == 0.0
    return CheckResult("no_hook_after_raise", ok, diff, 0.0,
                       f"raised: {raised}; modules with hooks after: {left or 'none'}; logits after vs before")


CHECKS: tuple[Callable[[Adapter, bool], CheckResult], ...] = (
    check_identity_patch, check_lens, check_sweep, check_delimiter_text, check_delimiter_image, check_prefill_only,
    check_no_hook_after_raise)


def run_checks(adapter: Adapter, quick: bool = False, progress=None) -> CheckReport:
    """Every invariant on ``adapter``; an invariant that raises counts as failed (with the error)."""
    report = CheckReport(adapter.model_id, str(adapter.dtype).replace("torch.", ""), quick)
    t0 = time.time()
    for i, check in enumerate(CHECKS):
        name = check.__name__.removeprefix("check_")
        t = time.time()
        try:
            res = check(adapter, quick)
        except Exception as e:  # report, never crash: a failing invariant is the finding
            res = CheckResult(name, False, None, None, f"raised {type(e).__name__}: {e}")
        res.seconds = time.time() - t
        report.results.append(res)
        if progress is not None:
            progress(i + 1, len(CHECKS))
    report.seconds = time.time() - t0
    return report
