"""``python -m taskvec check --model ID``: prove the mechanics on a loaded checkpoint.

Runs the invariants the test suite checks on tiny models (``taskvec.analysis.invariants``)
on any model -- identity patch, lens at the last layer == logits, batched sweep == per-layer
loop, the delimiter in a text prompt (and with images on a VLM), prefill-only patching during
generation, no hook left after a raising call -- and prints each measured max abs difference
with the tolerance used for the model's dtype. Exit status 1 if any invariant fails.
``--layer`` also measures the suggested patch layer (``taskvec.analysis.layer_choice``) and
caches it with the model.
"""

from __future__ import annotations

from taskvec.cli.dispatch import add_dispatch_args, dispatch_kwargs

import json
import os
import time

from taskvec.analysis.invariants import TOLERANCES


def add_parser(sub) -> None:
    p = sub.add_parser("check", help="Run the mechanics invariants (hooks, lens, sweep, delimiter) on a checkpoint")
    p.add_argument("--model", default="smollm2",
                   help="HF id, local folder or *.gguf, 'smollm2', 'gemma3-270m', 'organism' or 'tiny-random/<family>'")
    p.add_argument("--revision", default=None)
    p.add_argument("--dtype", default="auto", help="auto (fp32 on CPU, bf16 on GPU), fp32, bf16, fp16")
    p.add_argument("--device", default="auto")
    add_dispatch_args(p)
    p.add_argument("--quick", action="store_true", help="the app's subset: 3 layers instead of all")
    p.add_argument("--layer", action="store_true",
                   help="also measure the suggested patch layer on built-in tasks (cached with the model)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_check)


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2e}"


def cmd_check(args) -> int:
    from taskvec.analysis.invariants import run_checks
    from taskvec.models import load_model

    if os.environ.get("TASKVEC_THREADS"):  # e.g. 1 on a shared machine (as eval, figures and bench read it)
        import torch

        torch.set_num_threads(int(os.environ["TASKVEC_THREADS"]))
    t = time.time()
    adapter = load_model(args.model, args.revision, args.dtype, args.device, **dispatch_kwargs(args))
    load_s = time.time() - t
    report = run_checks(adapter, quick=args.quick)
    choice = None
    if args.layer:
        from taskvec.analysis.layer_choice import measure_and_cache
        from taskvec.models.gguf import cache_root

        choice = measure_and_cache(adapter, root=cache_root())
    if args.json:
        out = {"model": adapter.describe(), "load_seconds": load_s, "passed": report.passed,
               "seconds": report.seconds, "results": report.rows()}
        if choice is not None:
            out["suggested_layer"] = choice.as_dict()
        print(json.dumps(out, indent=2))
        return 0 if report.passed else 1
    d = adapter.describe()
    atol, rtol = TOLERANCES.get(adapter.dtype, TOLERANCES[next(iter(TOLERANCES))])
    print(f"model {d['model']} ({d.get('label') or d['family']}): {d['layers']} layers, hidden {d['hidden_size']}, "
          f"{d['dtype']} on {d['device']}; loaded in {load_s:.1f} s")
    print(f"tolerance for {d['dtype']}: atol {atol:g} + rtol {rtol:g} x max|reference| "
          f"(fp32 1e-3 + 1e-4x; fp16 5e-2 + 1e-2x; bf16 2.5e-1 + 2e-2x: fewer mantissa bits, looser)")
    if adapter.meaningless_weights:
        print("NOTE: tiny random weights -- this checks mechanics only.")
    print(f"{'invariant':<20} {'result':<6} {'max|diff|':>10} {'tolerance':>10}  detail")
    for r in report.results:
        print(f"{r.name:<20} {'ok' if r.passed else 'FAIL':<6} {_fmt(r.max_abs_diff):>10} {_fmt(r.tolerance):>10}  "
              f"{r.detail} ({r.seconds:.1f} s)")
    print(f"{report.verdict()} in {report.seconds:.1f} s")
    if choice is not None:
        print(f"suggested layer: {choice.layer} (mean first-token accuracy {choice.curve[choice.layer]:.2f} over "
              f"{choice.n} queries of {', '.join(choice.tasks)}; middle layer would be {adapter.n_layers // 2}); "
              f"cached in {choice.path}")
    return 0 if report.passed else 1
