"""``python -m taskvec run``: No Context / Prompt / Patch answers for one query (a quick look)."""

from __future__ import annotations

import json

from taskvec.errors import TaskvecError


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="No Context / Prompt / Patch answers for one query")
    p.add_argument("--model", default="organism", help="HF id, local folder, 'organism' or 'tiny-random/<family>'")
    p.add_argument("--revision", default=None)
    p.add_argument("--dtype", default="auto")
    p.add_argument("--device", default="auto")
    p.add_argument("--examples", default=None, help="'France:Paris; Italy:Rome' (';' or newline separated)")
    p.add_argument("--instruction", default=None, help="a raw instruction, e.g. 'The capital city of the country:'")
    p.add_argument("--query-text", default=None)
    p.add_argument("--query-image", default=None, help="path of an image query")
    p.add_argument("--layer", type=int, default=None, help="residual layer to patch (default: suggested)")
    p.add_argument("--mode", choices=["replace", "add"], default="replace")
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--n-examples", type=int, default=5)
    p.add_argument("--n-sets", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-new-tokens", type=int, default=8)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_run)


def build_spec(examples: str | None, instruction: str | None):
    from taskvec.core.specs import Ensemble, Instruction, parse_examples

    parts = []
    if examples:
        parts.append(parse_examples(examples, allow_semicolons=True))
    if instruction:
        parts.append(Instruction(instruction))
    if not parts:
        raise TaskvecError("No task given: pass --examples 'France:Paris; Italy:Rome' and/or --instruction '...'.")
    return parts[0] if len(parts) == 1 else Ensemble(tuple(parts), (1.0,) * len(parts))


def cmd_run(args) -> int:
    from taskvec.analysis.compare import compare
    from taskvec.data.imageio import load_image
    from taskvec.models import load_model

    spec = build_spec(args.examples, args.instruction)
    if bool(args.query_text) == bool(args.query_image):
        raise TaskvecError("Give exactly one query: --query-text TEXT or --query-image PATH.")
    query = load_image(args.query_image) if args.query_image else args.query_text
    adapter = load_model(args.model, args.revision, args.dtype, args.device)
    res = compare(adapter, spec, query, args.layer, args.n_examples, args.n_sets, args.seed, args.mode,
                  args.scale, args.max_new_tokens)
    out = {"model": adapter.describe(), **res.as_dict()}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    if adapter.meaningless_weights:
        print("NOTE: tiny random weights -- the answers are meaningless; this checks mechanics only.")
    print(f"model {adapter.model_id} ({adapter.family}, {adapter.n_layers} layers); patch at layer {res.layer}")
    for name in ("no_context", "prompt", "patch"):
        g = getattr(res, name)
        top = ", ".join(f"{t!r} {p:.3f}" for t, p in zip(g.top.tokens, g.top.probs))
        print(f"{name:>10}: {g.text!r:<24} top-5 first token: {top}")
    if res.random is not None:
        print(f"{'random':>10}: {res.random!r} (majority answer among the examples)")
    return 0
