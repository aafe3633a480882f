"""``python -m taskvec run``: No Context / Prompt / Patch answers for one query (a quick look)."""

from __future__ import annotations

from taskvec.cli.dispatch import add_dispatch_args, dispatch_kwargs

import json

from taskvec.errors import TaskvecError


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="No Context / Prompt / Patch answers for one query")
    p.add_argument("--model", default="organism", help="HF id, local folder, 'organism' or 'tiny-random/<family>'")
    p.add_argument("--revision", default=None)
    p.add_argument("--dtype", default="auto")
    p.add_argument("--device", default="auto")
    add_dispatch_args(p)
    p.add_argument("--examples", default=None, help="'France:Paris; Italy:Rome' (';' or newline separated)")
    p.add_argument("--instruction", default=None, help="a raw instruction, e.g. 'The capital city of the country:'")
    p.add_argument("--query-text", default=None)
    p.add_argument("--query-image", default=None, help="path of an image query")
    p.add_argument("--layer", type=int, default=None,
                   help="layer to patch, in --layer-convention's numbering (default: suggested; under --protocol "
                        "paper the official fixed layer of Idefics2 / LLaVA-1.5)")
    p.add_argument("--layer-convention", choices=("taskvec", "official"), default="taskvec",
                   help="taskvec: residual layer l (0 = embeddings, l = output of decoder layer l-1); official: the "
                        "paper code's L = output of decoder layer L, from 0 (so taskvec l = L + 1)")
    p.add_argument("--protocol", choices=("taskvec", "paper"), default="taskvec",
                   help="paper: the task vector as the authors' code reads it (each example in turn the query, read "
                        "at the last demonstration's ':'), pinned revision and NF4 4-bit for their hub models")
    p.add_argument("--quantization", choices=("auto", "nf4", "4bit", "8bit", "none"), default="auto",
                   help="hub models only; auto = nf4 under --protocol paper, else none")
    p.add_argument("--mode", choices=["replace", "add"], default="replace")
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--n-examples", type=int, default=5)
    p.add_argument("--n-sets", type=int, default=10)
    p.add_argument("--seed", type=int, default=None, help="sampling seed (default 0; 1 under --protocol paper)")
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


def resolve_layer(adapter, layer: int | None, convention: str, protocol: str) -> int | None:
    """``--layer`` in taskvec's residual numbering (None: the command's default layer)."""
    from taskvec.analysis import paper
    from taskvec.core.hooks import check_layer
    from taskvec.errors import LayerError

    if layer is None:
        return paper.fixed_layer(adapter.model_id) if protocol == "paper" else None
    if convention == "official":
        if not 0 <= layer < adapter.n_layers:
            raise LayerError(f"--layer {layer} in the official numbering (output of decoder layer L) must be in "
                             f"0..{adapter.n_layers - 1} for {adapter.model_id or adapter.family}.")
        layer = paper.to_taskvec(layer)
    return check_layer(layer, adapter.n_layers)


def paper_vector(adapter, spec, n_examples: int, seed: int):
    """The task vector of ``spec`` as the official code reads it (``analysis.paper.task_vector``)."""
    from taskvec.analysis import paper
    from taskvec.core.specs import Ensemble, Instruction, describe
    from taskvec.core.vectors import TaskVector

    parts = spec.parts if isinstance(spec, Ensemble) else (spec,)
    pairs = [pair for p in parts if not isinstance(p, Instruction) for pair in p.pairs]
    instr = next((p.text for p in parts if isinstance(p, Instruction)), "")
    kind = "ensemble" if pairs and instr else ("instruction" if instr else "text")
    vec, per_set = paper.task_vector(adapter, kind, pairs, n_examples, seed, instr)
    return TaskVector(vec, per_set, {"model": adapter.model_id, "spec": describe(spec), "protocol": "paper",
                                     "n_examples": n_examples, "seed": seed})


def cmd_run(args) -> int:
    from taskvec.analysis import paper
    from taskvec.analysis.compare import compare
    from taskvec.cli.eval import loading_plan
    from taskvec.data.imageio import load_image
    from taskvec.models import load_model

    spec = build_spec(args.examples, args.instruction)
    if bool(args.query_text) == bool(args.query_image):
        raise TaskvecError("Give exactly one query: --query-text TEXT or --query-image PATH.")
    query = load_image(args.query_image) if args.query_image else args.query_text
    plan = loading_plan(args, args.model)
    adapter = load_model(args.model, plan["revision"], plan["dtype"], args.device, plan["quantization"], **dispatch_kwargs(args))
    seed = args.seed if args.seed is not None else (1 if args.protocol == "paper" else 0)
    layer = resolve_layer(adapter, args.layer, args.layer_convention, args.protocol)
    vector = paper_vector(adapter, spec, args.n_examples, seed) if args.protocol == "paper" else None
    res = compare(adapter, spec, query, layer, args.n_examples, args.n_sets, seed, args.mode,
                  args.scale, args.max_new_tokens, vector=vector)
    out = {"model": adapter.describe(), **res.as_dict(), "layer_official": paper.to_official(res.layer),
           "layer_convention": "layer: taskvec residual l; layer_official: L = l - 1", "protocol": args.protocol}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    if adapter.meaningless_weights:
        print("NOTE: tiny random weights -- the answers are meaningless; this checks mechanics only.")
    print(f"model {adapter.model_id} ({adapter.family}, {adapter.n_layers} layers, protocol {args.protocol}); "
          f"patch at {paper.layer_label(res.layer)}")
    for name in ("no_context", "prompt", "patch"):
        g = getattr(res, name)
        top = ", ".join(f"{t!r} {p:.3f}" for t, p in zip(g.top.tokens, g.top.probs))
        print(f"{name:>10}: {g.text!r:<24} top-5 first token: {top}")
    if res.random is not None:
        print(f"{'random':>10}: {res.random!r} (majority answer among the examples)")
    return 0
