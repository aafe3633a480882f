"""``python -m taskvec bench``: what patching costs compared with prompting (paper Table 7).

Measured in one run, medians over ``--repeats``:
1. first-token forward wall time of Prompt (N examples + query in context) vs Patch
   (task vector + query alone) vs the query alone, at N = 5 and N = 30 text examples;
   and the peak resident memory (RSS) each adds on top of the loaded model, measured in a
   fresh subprocess per measurement (peak reset through /proc/self/clear_refs; on CPU
   this is process RSS incl. allocator caches, not torch tensor bytes; on CUDA,
   torch.cuda.max_memory_allocated);
2. the batched ``layer_sweep`` (one pass, copies joining at their patch layer, where the family
   allows) vs ``naive_sweep`` (one forward per layer) vs one plain query forward;
3. extraction of every layer's vectors for K example sets batched
   (``residuals(..., batch_size=K)``) vs one at a time (``batch_size=1``).
When nnsight is installed (``pip install nnsight``), its batched sweep -- one invoke per
layer, L+1 patched inputs in one batched forward -- is timed beside taskvec's as a contender
(``nnsight_sweep``; its logits are checked equal to ``naive_sweep`` before timing).
``--layers 24`` builds a random-weight 24-layer Llama (hidden 256; meaningless weights,
timing only) because real checkpoints cannot be downloaded on offline machines.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

from taskvec.errors import ContextLengthError, TaskvecError

WORDS = [("France", "Paris"), ("Italy", "Rome"), ("Spain", "Madrid"), ("Japan", "Tokyo"), ("Kenya", "Nairobi"),
         ("Peru", "Lima"), ("Egypt", "Cairo"), ("Chile", "Santiago"), ("Norway", "Oslo"), ("Cuba", "Havana")]


def add_parser(sub) -> None:
    p = sub.add_parser("bench", help="Time/memory of prompting vs patching, batched sweep vs naive, batched extraction")
    p.add_argument("--model", default="organism", help="model to load (ignored with --layers)")
    p.add_argument("--layers", type=int, default=None, help="build a random Llama with this many layers (hidden 256)")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--n-sets", type=int, default=10, help="K example sets for the extraction benchmark")
    p.add_argument("--no-memory", action="store_true", help="skip the per-measurement memory subprocesses")
    p.add_argument("--out", default=None, help="write the measurements as JSON here")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=cmd_bench)


def build_random_llama(n_layers: int, hidden: int = 256):
    """A random-weight Llama adapter (24 layers x 256 by default) with the tiny byte-level tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from taskvec.models.registry import adapter_for
    from taskvec.testing import build_tiny

    _, tok = build_tiny("llama")
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden,
                      num_hidden_layers=n_layers, num_attention_heads=max(1, hidden // 64), num_key_value_heads=max(1, hidden // 64),
                      max_position_embeddings=4096, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                      eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg).eval()
    return adapter_for("llama")(model, tok, f"random-llama-{n_layers}L-h{hidden}", meaningless_weights=True)


def _load(args):
    from taskvec.models import load_model

    if args.layers:
        if args.layers < 1 or args.hidden < 64 or args.hidden % 64:
            raise TaskvecError(f"--layers must be >= 1 and --hidden a multiple of 64; got {args.layers}, {args.hidden}.")
        return build_random_llama(args.layers, args.hidden)
    return load_model(args.model, device=args.device)


def _pairs(n: int):
    """n distinct text examples (the paper's dense-text setting)."""
    from taskvec.data.tasks import load_task

    try:
        pairs = load_task("country-capital").pairs()
    except TaskvecError:
        pairs = WORDS
    return [pairs[i % len(pairs)] for i in range(n)]


def _ops(adapter, n_examples: int, vector=None, long_query: bool = False):
    """name -> zero-arg callable for the first-token forward of each method (and "vector": the patched one).

    ``vector``: (L+1, D) to patch; default a task vector extracted from text examples
    (the memory child passes a random one so no extraction forward precedes the op)."""
    from taskvec.analysis.compare import suggested_layer
    from taskvec.core.patching import first_token_logits, make_patch
    from taskvec.core.sweep import layer_sweep, naive_sweep
    from taskvec.core.prompts import icl_prompt, query_prompt
    from taskvec.core.specs import TextExamples
    from taskvec.core.vectors import extract

    pairs = _pairs(n_examples + 1)
    # a long query stands in for an image query (SmolVLM: 64 image tokens, LLaVA: 576)
    query = ", ".join(x for x, _ in _pairs(12)) if long_query else pairs[-1][0]
    demos = pairs[:n_examples]
    tv = vector if vector is not None else extract(
        adapter, TextExamples(tuple(pairs[: max(n_examples, 2)])), min(n_examples, 5), 3).vectors  # (L+1, D)
    layer = suggested_layer(adapter)
    qp, full = query_prompt(query), icl_prompt(demos, query)
    return {
        "vector": tv,
        "prompt": lambda: first_token_logits(adapter, full),
        "patch": lambda: first_token_logits(adapter, qp, lambda enc: [make_patch(adapter, enc, tv, layer)]),
        "query": lambda: first_token_logits(adapter, qp),
        "sweep": lambda: layer_sweep(adapter, qp, tv),
        "naive_sweep": lambda: naive_sweep(adapter, qp, tv),
    }


def _module_name(model, module) -> str:
    for name, m in model.named_modules():
        if m is module:
            return name
    raise TaskvecError(f"{type(module).__name__} is not a submodule of the model.")


def _envoy(root, dotted: str):
    """The nnsight envoy of the submodule at ``dotted`` (attribute and index steps)."""
    for part in dotted.split("."):
        root = root[int(part)] if part.isdigit() else getattr(root, part)
    return root


def nnsight_sweep(adapter, prompt, vectors, wrapped=None):
    """nnsight 0.8's batched layer sweep: one invoke per residual layer l (the input of decoder layer 0
    for l = 0 -- of layer l wherever the adapter's residual sites are layer inputs -- else the output of
    layer l - 1, overwritten at the delimiter), one batched forward;
    (L+1, V) first-token logits. ``wrapped``: a cached ``LanguageModel`` around ``adapter.model``."""
    import torch

    from taskvec.core.prompts import has_image

    if has_image(prompt):
        raise TaskvecError("nnsight's LanguageModel batches invokes of text or token ids only, not image inputs; "
                           "the bench times it on text queries.")
    sites = adapter.residual_sites
    if sites.view is not None:
        raise TaskvecError("this model passes its residual between decoder layers in another form than (B, T, D) "
                           "(e.g. Gemma 3n's stacked AltUp streams); an nnsight sweep indexing layer outputs would "
                           "patch the wrong tensor, so it is not timed.")
    enc = adapter.encode([prompt])
    d, last = int(enc.delimiters[0]), int(enc.lengths[0]) - 1
    vecs = vectors.to(adapter.device, adapter.dtype)
    saved, side = [], adapter.tokenizer.padding_side
    try:
        wrapped = wrapped or _nnsight_model(adapter)
        layers = _envoy(wrapped, _module_name(adapter.model, adapter.decoder_layers))
        head = _envoy(wrapped, _module_name(adapter.model, adapter.lm_head))
        with torch.no_grad(), wrapped.trace() as tracer:
            for l in range(adapter.n_layers + 1):
                with tracer.invoke(**adapter.full_inputs(enc)):
                    if sites.pre_hooked(l):  # l = 0, or every l < L where the adapter reads layer inputs
                        layers[l].input[:, d, :] = vecs[l]
                    else:
                        layers[l - 1].output[:, d, :] = vecs[l]
                    saved.append(head.output[:, last].save())
    finally:  # nnsight switches the shared tokenizer to left padding when it batches; taskvec needs right
        adapter.tokenizer.padding_side = side
    return torch.cat([x.float() for x in saved])  # (L+1, V)


def _nnsight_model(adapter):
    """nnsight's ``LanguageModel`` around ``adapter.model`` (its deprecation notice and transformers' pipeline
    notice silenced, the logging level restored). It sets the
    shared tokenizer to left padding: callers restore it (``nnsight_sweep`` does, after every trace)."""
    import warnings

    from nnsight import LanguageModel

    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity(hf_logging.CRITICAL)  # its pipeline check logs an error listing every causal LM for a VLM
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return LanguageModel(adapter.model, tokenizer=adapter.tokenizer)
    finally:
        hf_logging.set_verbosity(level)


def _nnsight_op(adapter, prompt, vectors):
    """A zero-arg nnsight sweep checked equal to the per-layer loop, or None (nnsight not installed)."""
    try:
        import nnsight  # noqa: F401
    except ImportError:
        return None
    import torch

    from taskvec.core.sweep import naive_sweep

    side = adapter.tokenizer.padding_side
    try:
        wrapped = _nnsight_model(adapter)
    finally:  # taskvec's encoding needs right padding
        adapter.tokenizer.padding_side = side
    got, ref = nnsight_sweep(adapter, prompt, vectors, wrapped), naive_sweep(adapter, prompt, vectors).logits
    if not torch.allclose(got.cpu(), ref.float().cpu(), atol=1e-3, rtol=1e-4):
        raise TaskvecError(f"nnsight's sweep differs from the per-layer loop by {(got.cpu() - ref.cpu()).abs().max():.2e}; "
                           "not timing a contender that computes something else.")
    return lambda: nnsight_sweep(adapter, prompt, vectors, wrapped)


def _extract_ops(adapter, k: int):
    from taskvec.core.activations import residuals
    from taskvec.core.prompts import icl_prompt
    from taskvec.core.specs import example_sets

    sets = example_sets(_pairs(40), 5, k, seed=0)
    prompts = [icl_prompt(s.demos, s.query) for s in sets]
    return {"extract_batched": lambda: residuals(adapter, prompts, batch_size=k),
            "extract_one_by_one": lambda: residuals(adapter, prompts, batch_size=1)}


def _median_times(fns: dict, repeats: int) -> dict:
    """Median wall time per op; ops are interleaved round-robin so CPU noise hits all alike."""
    import torch

    times: dict = {k: [] for k in fns}
    with torch.no_grad():
        for fn in fns.values():
            fn()  # warm-up (allocations, lazy init)
        for _ in range(repeats):
            for k, fn in fns.items():
                t = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def _rss_kb(field: str = "VmRSS") -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _trim() -> None:
    """Return freed heap to the OS so the RSS baseline is the loaded model, not allocator slack."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


def memory_child(spec: dict) -> dict:
    """Run in a fresh process: load, warm nothing, reset the RSS peak, run one op once."""
    import argparse

    import torch

    torch.set_num_threads(1)
    args = argparse.Namespace(**spec["args"])
    adapter = _load(args)
    vec = torch.randn(adapter.n_layers + 1, adapter.hidden_size)  # (L+1, D): memory does not depend on values
    ops = _ops(adapter, spec["n"], vec)
    op = (ops if spec["op"] not in ("extract_batched", "extract_one_by_one")
          else _extract_ops(adapter, args.n_sets))[spec["op"]]
    with torch.no_grad():
        ops["query"]()  # warm-up: one-time lazy initialisation is not charged to the measured op
    _trim()
    if adapter.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        with torch.no_grad():
            op()
        peak = torch.cuda.max_memory_allocated()
        return {"kind": "cuda max_memory_allocated", "delta_mb": (peak - base) / 2**20, "peak_mb": peak / 2**20}
    base = _rss_kb("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak RSS (VmHWM) to the current RSS
        kind = "peak RSS (VmHWM after clear_refs reset) - RSS before"
    except OSError:
        kind = "ru_maxrss delta (peak since start; underestimates if loading peaked higher)"
    import resource

    before_max = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with torch.no_grad():
        op()
    if kind.startswith("peak RSS"):
        peak = _rss_kb("VmHWM")
        delta = peak - base
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        delta = peak - before_max
    return {"kind": kind, "delta_mb": delta / 1024, "peak_mb": peak / 1024}


def _memory(args, op: str, n: int) -> dict:
    spec = {"args": {k: v for k, v in vars(args).items() if k != "func"}, "op": op, "n": n}
    code = "import json,sys; from taskvec.bench import memory_child; print(json.dumps(memory_child(json.loads(sys.argv[1]))))"
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    r = subprocess.run([sys.executable, "-c", code, json.dumps(spec)], capture_output=True, text=True, env=env, timeout=900)
    if r.returncode != 0:
        return {"kind": "failed", "delta_mb": float("nan"), "error": r.stderr.strip().splitlines()[-1:]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def cmd_bench(args) -> int:
    import torch

    if args.repeats < 1:
        raise TaskvecError(f"--repeats must be >= 1; got {args.repeats}.")
    torch.set_num_threads(int(os.environ.get("TASKVEC_THREADS", "1")))
    adapter = _load(args)
    d = adapter.describe()
    print(f"bench: {d['model']} ({d['layers']} layers, hidden {d['hidden_size']}, {d['dtype']}, {d['device']})"
          + (" -- random weights: timing only" if adapter.meaningless_weights else "")
          + f"; medians over {args.repeats} repeats, torch threads {torch.get_num_threads()}")
    res: dict = {"model": d, "repeats": args.repeats, "forward": {}, "sweep": {}, "extract": {}}
    for n in (5, 30):
        ops = _ops(adapter, n)
        try:
            t = _median_times({k: ops[k] for k in ("prompt", "patch", "query")}, args.repeats)
        except ContextLengthError as e:
            print(f"\nN={n}: skipped ({e})")
            res["forward"][n] = {"skipped": str(e)}
            continue
        mem = {} if args.no_memory else {k: _memory(args, k, n) for k in ("prompt", "patch", "query")}
        res["forward"][n] = {"time_s": t, "memory": mem}
        print(f"\nN={n} text examples, first-token forward:")
        for k in ("prompt", "patch", "query"):
            m = f"  peak RSS {mem[k].get('peak_mb', float('nan')):7.1f} MB (+{mem[k]['delta_mb']:.1f} MB over the loaded model)" if mem else ""
            print(f"  {k:<7} {t[k] * 1000:8.2f} ms  ({t[k] / t['query']:.2f}x query alone){m}")
        print(f"  ratios: prompt/patch {t['prompt'] / t['patch']:.2f}x, patch/query {t['patch'] / t['query']:.2f}x "
              f"(target <= 1.1x)")
    from taskvec.core.prompts import query_prompt

    for long_query in (False, True):
        ops = _ops(adapter, 5, long_query=long_query)
        q = ", ".join(x for x, _ in _pairs(12)) if long_query else _pairs(6)[-1][0]
        timed = {k: ops[k] for k in ("sweep", "naive_sweep", "query")}
        try:
            contender = _nnsight_op(adapter, query_prompt(q), ops["vector"])
        except TaskvecError as e:
            contender, skipped = None, str(e)
        else:
            skipped = "nnsight not installed: `pip install nnsight` adds it as a contender"
        if contender is not None:
            timed["nnsight_sweep"] = contender
        s = _median_times(timed, args.repeats)
        s["query_tokens"] = int(adapter.encode([query_prompt(q)]).lengths[0])
        res["sweep" if not long_query else "sweep_long_query"] = s
        print(f"\nlayer sweep over all {adapter.n_layers + 1} residual layers, query of {s['query_tokens']} tokens:")
        deep = adapter.n_layers >= 24  # the targets are set for 24+ layers (issue 11); few layers leave little to skip
        target = 1.25 if long_query else 1.5  # the long query stands in for an image
        print(f"  batched layer_sweep {s['sweep'] * 1000:8.2f} ms = {s['sweep'] / s['query']:.2f}x one query forward "
              f"({s['query'] * 1000:.2f} ms" + (f"; target <= {target}x)" if deep else "; targets are for 24+ layers)"))
        print(f"  naive_sweep         {s['naive_sweep'] * 1000:8.2f} ms = {s['naive_sweep'] / s['sweep']:.2f}x the batched sweep"
              + (" (target >= 5x)" if deep else ""))
        if "nnsight_sweep" in s:
            import nnsight

            print(f"  nnsight {nnsight.__version__} batched {s['nnsight_sweep'] * 1000:8.2f} ms = "
                  f"{s['nnsight_sweep'] / s['sweep']:.2f}x taskvec's sweep (target > 1x: taskvec faster)")
        else:
            print(f"  (no nnsight contender: {skipped})")
    e = _extract_ops(adapter, args.n_sets)
    x = _median_times(e, args.repeats)
    res["extract"] = x
    print(f"\nextraction of all layers' vectors for K={args.n_sets} example sets (N=5):")
    print(f"  batched (batch_size=K) {x['extract_batched'] * 1000:8.2f} ms; one at a time {x['extract_one_by_one'] * 1000:8.2f} ms "
          f"= {x['extract_one_by_one'] / x['extract_batched']:.2f}x slower")
    if not args.no_memory:
        kind = next(iter(res["forward"][5].get("memory", {"": {"kind": "n/a"}}).values()))["kind"]
        print(f"\nmemory: {kind}, one fresh subprocess per measurement")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "bench.json")
        with open(path, "w") as f:
            json.dump(res, f, indent=1)
        print(f"wrote {path}")
    return 0
