"""``python -m taskvec eval``: the paper's evaluation (Table 2, Fig. 6, Fig. 10, Tables 3, 9, 12).

For each task and seed: No Context, Prompt, Random, and Patch at every layer on the
validation split (one batched ``layer_sweep`` per query); the layer with the best mean
validation accuracy over tasks is chosen per seed; test accuracy is read at that layer;
tables average over seeds. Each finished (task, seed, setting) unit is a JSON file in
``DIR/units`` and is loaded, not recomputed, when the command is run again.

Bad input (unknown task, missing/empty data, missing image, image input on a text-only
model) fails with one line before any forward pass.

``--protocol paper`` follows the authors' code instead (``taskvec.analysis.paper``): vectors
read at the last demonstration's ':' and averaged over every validation item, Prompt
demonstrations from the query's own split, seeds 1..K, the official fixed layer (printed in
both numberings), NF4 4-bit loading and pinned revisions for hub models, and with
``--ensemble-sweep`` Fig. 6's N (mean of N/5 five-shot vectors, case-insensitive).
"""

from __future__ import annotations

from taskvec.cli.dispatch import add_dispatch_args, dispatch_kwargs

import json
import os
import time
from pathlib import Path

from taskvec.errors import TaskvecError, UnsupportedInputError, VectorShapeError
from taskvec.analysis.tables import format_table, modality_table, summarize, write_csv
from taskvec.analysis.units import QUERIES, SPECS, Inputs, Unit, check_task, resolve_task, run_unit

ALL_MODALITY_SPECS = ("text", "image", "instruction")


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="Evaluate No Context / Prompt / Random / Patch on task datasets (paper Table 2)")
    p.add_argument("--model", default="organism", help="HF id, local folder, 'organism' or 'tiny-random/<family>'")
    p.add_argument("--source-model", default=None, help="extract vectors on this model (a base LLM) and patch into --model")
    p.add_argument("--revision", default=None)
    p.add_argument("--dtype", default="auto")
    p.add_argument("--device", default="auto")
    add_dispatch_args(p)
    p.add_argument("--tasks", default=None, help="comma-separated task ids, .jsonl files or task folders (default: the six paper tasks)")
    p.add_argument("--spec", choices=SPECS, default="text", help="how the task is specified (default text examples)")
    p.add_argument("--query", choices=QUERIES, default="image", help="query modality (default image, as in Table 2)")
    p.add_argument("--n-examples", type=int, default=5)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--n-sets", type=int, default=10, help="example sets averaged into each task vector (--protocol paper: one per validation item; ignored)")
    p.add_argument("--limit-val", type=int, default=None, help="use only the first N validation items")
    p.add_argument("--limit-test", type=int, default=None, help="use only the first N test items")
    p.add_argument("--ensemble-sweep", default=None, metavar="N,N,...",
                   help="instruction + N examples ensemble vs examples alone for each N (Fig. 6)")
    p.add_argument("--all-modalities", action="store_true", help="every spec x query modality (Table 12)")
    p.add_argument("--additive", action="store_true",
                   help="also score the Additive Patch: query residual + (task vector - mean no-context residual)")
    p.add_argument("--typos", type=int, default=0, metavar="K", help="K seeded character typos in each instruction (Table 9)")
    p.add_argument("--protocol", choices=("taskvec", "paper"), default="taskvec",
                   help="taskvec (default: vectors at the query's ':', --n-sets sets from the other split, layer chosen "
                        "per seed on val) or paper (the authors' code: last demonstration's ':', every val item a set, "
                        "fixed official layers, NF4 4-bit, pinned revisions, Fig. 6's N)")
    p.add_argument("--quantization", choices=("auto", "nf4", "4bit", "8bit", "none"), default="auto",
                   help="hub models only; auto = nf4 (4-bit NF4, double quant, fp16 compute) under --protocol paper, "
                        "else none")
    p.add_argument("--out", default="eval_out", help="output folder (JSON, CSV, HTML; resumable)")
    p.add_argument("--no-png", action="store_true", help="write HTML figures only")
    p.set_defaults(func=cmd_eval)


def plan_units(args, tasks: list[str]) -> list[Unit]:
    """Every unit of work the options ask for, in a fixed order."""
    from taskvec.analysis.paper import FIG6_SET_SIZE
    from taskvec.analysis.protocol import get_protocol

    protocol = get_protocol(getattr(args, "protocol", "taskvec"))
    settings = []  # (spec, query, n_examples)
    if args.ensemble_sweep:
        try:
            ns = [int(x) for x in args.ensemble_sweep.split(",") if x.strip()]
        except ValueError:
            raise TaskvecError(f"--ensemble-sweep takes comma-separated integers like 1,2,5; got {args.ensemble_sweep!r}.") from None
        if not ns or min(ns) < 1:
            raise TaskvecError(f"--ensemble-sweep needs positive integers; got {args.ensemble_sweep!r}.")
        if protocol.official and any(n % FIG6_SET_SIZE for n in ns):
            raise TaskvecError(f"--protocol paper: Fig. 6's N is the mean of N/{FIG6_SET_SIZE} five-shot vectors, so each N "
                               f"must be a multiple of {FIG6_SET_SIZE}; got {args.ensemble_sweep!r} (try 5,10,15,20,25,30).")
        settings += [(s, args.query, n) for n in ns for s in ("text", "ensemble")]
    elif args.all_modalities:
        settings += [(s, q, args.n_examples) for s in ALL_MODALITY_SPECS for q in QUERIES]
    else:
        settings.append((args.spec, args.query, args.n_examples))
    if args.typos < 0:
        raise TaskvecError(f"--typos must be >= 0; got {args.typos}.")
    if args.typos and not any(s in ("instruction", "ensemble") for s, _, _ in settings):
        raise TaskvecError("--typos changes instructions: use it with --spec instruction or ensemble, or --ensemble-sweep.")
    if args.seeds < 1 or args.n_sets < 1:
        raise TaskvecError(f"--seeds and --n-sets must be >= 1; got {args.seeds} and {args.n_sets}.")
    for name, v in (("--limit-val", args.limit_val), ("--limit-test", args.limit_test)):
        if v is not None and v < 2:
            raise TaskvecError(f"{name} must be >= 2 (vectors for one split come from the other); got {v}.")
    name = "paper-fig6" if protocol.official and args.ensemble_sweep else protocol.name
    seeds = range(protocol.first_seed, protocol.first_seed + args.seeds)
    return [Unit(t, s, q, n, args.typos if s in ("instruction", "ensemble") else 0, seed, bool(args.additive), name)
            for s, q, n in settings for seed in seeds for t in tasks]


def is_hub(name: str | None) -> bool:
    """A Hugging Face id or local folder (not a plugin model like the organism, not tiny-random)."""
    from taskvec.models.loading import TINY_PREFIX
    from taskvec.models.registry import named_loader

    try:  # registry-package GGUF names load from local files, unquantized
        from taskvec.models.gguf import is_gguf_name
    except ImportError:
        def is_gguf_name(_name):
            return False
    return bool(name) and named_loader(name) is None and not name.startswith(TINY_PREFIX) and not is_gguf_name(name)


def loading_plan(args, name: str | None) -> dict:
    """Revision, dtype and quantization for ``name`` under ``args.protocol`` (official pins and NF4
    for hub models under --protocol paper; a plugin or tiny model loads as it is)."""
    from taskvec.analysis import paper

    official = getattr(args, "protocol", "taskvec") == "paper"
    if official:
        paper.check_mantis(name)
    hub = is_hub(name)
    revision = args.revision if name == args.model else None
    if official and hub and revision is None:
        revision = paper.pinned_revision(name)
    quant = getattr(args, "quantization", "auto")
    quant = ("nf4" if official and hub else None) if quant == "auto" else (None if quant == "none" else quant)
    if not hub:
        quant = None
    dtype = "fp16" if quant == "nf4" and args.dtype == "auto" else args.dtype
    return {"revision": revision, "dtype": dtype, "quantization": quant}


def actual_loading(adapter, plan: dict) -> dict:
    """What was loaded, as opposed to what a protocol preset asks for: revision, dtype and
    bitsandbytes quantization passed to the loader, and a GGUF checkpoint's own quantization."""
    prov = adapter.provenance()
    return {"revision": plan["revision"], "dtype": str(adapter.dtype).replace("torch.", ""),
            "quantization": plan["quantization"] or "none",
            **({"weights_file_quantization": prov["quantization"], "sha256": prov.get("sha256")}
               if prov.get("quantization") else {})}


def load_tasks(spec: str | None):
    from taskvec.data.tasks import PAPER_TASKS

    names = [t.strip() for t in (spec or ",".join(PAPER_TASKS)).split(",") if t.strip()]
    if not names:
        raise TaskvecError("--tasks is empty; give task ids such as country-capital,food-color.")
    tasks = {}
    for n in names:
        task = resolve_task(n)
        tasks[task.id] = task
    return tasks


def check_models(adapter, source, units: list[Unit]) -> None:
    """Image support and vector compatibility, right after loading, before any forward."""
    name = adapter.model_id or adapter.family
    if not adapter.supports_images and any(u.query == "image" or u.spec == "image" for u in units):
        raise UnsupportedInputError(f"{name} is a text-only model and cannot take images; "
                                    "use --query text --spec text|instruction, or a vision-language model.")
    if source is None:
        return
    sname = source.model_id or source.family
    if not source.supports_images and any(u.spec == "image" for u in units):
        raise UnsupportedInputError(f"--source-model {sname} is text-only and cannot read image examples; "
                                    "use --spec text or instruction.")
    if (source.hidden_size, source.n_layers) != (adapter.hidden_size, adapter.n_layers):
        raise VectorShapeError(
            f"--source-model {sname} has {source.n_layers} layers x {source.hidden_size} but {name} has "
            f"{adapter.n_layers} x {adapter.hidden_size}; vectors transfer only between a base LLM and the VLM built on it.")


def model_files(name: str | None) -> list:
    """Size and mtime of a local model's weight files, so new weights are never mixed with old units."""
    from taskvec.models.registry import named_loader

    if not name:
        return []
    folder = None
    loader = named_loader(name)  # a plugin's model (the organism): the folder of its weights
    if loader is not None and loader.files is not None:
        folder = Path(loader.files)
    elif os.path.isdir(name):
        folder = Path(name)
    if folder is None:
        return []  # hub ids: --revision pins them
    return [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in sorted(folder.glob("*"))
            if p.suffix in (".safetensors", ".bin", ".json")]


def _unit_done(path: Path, unit: Unit, fingerprint: dict) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None  # a half-written file: recompute
    return data if data.get("fingerprint") == fingerprint else None


def cmd_eval(args) -> int:
    import torch
    from tqdm.auto import tqdm

    from taskvec.models import load_model

    tasks = load_tasks(args.tasks)  # data errors before any model work
    units = plan_units(args, list(tasks))
    for u in {(u.task, u.spec, u.query, u.n_examples) for u in units}:
        check_task(tasks[u[0]], u[1], u[2], u[3], args.limit_val, args.limit_test)
    out = Path(args.out)
    (out / "units").mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(int(os.environ.get("TASKVEC_THREADS", "1")))
    plan = loading_plan(args, args.model)
    src_plan = loading_plan(args, args.source_model) if args.source_model else None
    fingerprint = {"model": args.model, "revision": args.revision, "source_model": args.source_model,
                   "n_sets": args.n_sets, "limit_val": args.limit_val, "limit_test": args.limit_test,
                   "model_files": model_files(args.model), "source_files": model_files(args.source_model)}
    if units[0].protocol != "taskvec":  # the default's fingerprint stays as it was: its unit files stay valid
        fingerprint.update(protocol=units[0].protocol, loading=plan, source_loading=src_plan)
    results, todo = {}, []
    for u in units:
        done = _unit_done(out / "units" / f"{u.key}.json", u, fingerprint)
        if done is not None:
            results[u] = done
        else:
            todo.append(u)
    print(f"eval: {len(units)} units ({len(units) - len(todo)} loaded from {out / 'units'}, {len(todo)} to compute)")
    adapter = source = None
    if todo:
        if units[0].protocol != "taskvec":
            for name, pl in ((args.model, plan), (args.source_model, src_plan)):
                if name:
                    print(f"protocol {units[0].protocol}: loading {name} at revision {pl['revision'] or 'latest'}, "
                          f"quantization {pl['quantization'] or 'none'}, dtype {pl['dtype']}")
        adapter = load_model(args.model, plan["revision"], plan["dtype"], args.device, plan["quantization"],
                             **dispatch_kwargs(args))
        source = (load_model(args.source_model, src_plan["revision"], src_plan["dtype"], args.device,
                             src_plan["quantization"]) if args.source_model else None)
        check_models(adapter, source, todo)
        loading = {"model": actual_loading(adapter, plan),
                   "source_model": actual_loading(source, src_plan) if source is not None else None}
        if units[0].protocol != "taskvec" and not is_hub(args.model):
            print(f"protocol {units[0].protocol}: {args.model} is not a hub model, so the official pinned revision and "
                  f"NF4 do not apply; it runs as loaded: {loading['model']}")
        if adapter.meaningless_weights:
            print("NOTE: tiny random weights -- accuracies are meaningless; this checks mechanics only.")
        inputs = {t: Inputs(tasks[t]) for t in tasks}
        n_queries = sum(sum(1 for _ in _queries(tasks[u.task], args)) for u in todo)
        t0 = time.time()
        with tqdm(total=n_queries, desc="eval queries", unit="q", mininterval=1.0) as bar:
            for u in todo:
                bar.set_postfix_str(f"{u.task} {u.spec}->{u.query} N={u.n_examples} seed={u.seed}")
                res = run_unit(adapter, tasks[u.task], u, args.n_sets, args.limit_val, args.limit_test,
                               source, inputs[u.task], progress=lambda: bar.update(1))
                res["fingerprint"] = fingerprint
                res["loading"] = loading
                path = out / "units" / f"{u.key}.json"
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps(res))
                tmp.replace(path)  # atomic: a killed run never leaves a half-written unit
                results[u] = res
        print(f"computed {len(todo)} units in {time.time() - t0:.1f} s")
    report(args, tasks, units, results, adapter)
    return 0


def _queries(task, args):
    from taskvec.analysis.units import limited

    val, test = limited(task, args.limit_val, args.limit_test)
    return val + test


def report(args, tasks, units, results, adapter) -> None:
    """Summaries per setting -> printed tables, results.json, results.csv, figures."""
    from taskvec import plot as P

    task_ids = list(tasks)
    groups: dict[str, list[Unit]] = {}
    for u in units:
        groups.setdefault(u.group, []).append(u)
    src = args.source_model
    summaries = {g: summarize([results[u] for u in us], task_ids, src) for g, us in groups.items()}
    out = Path(args.out)
    model_note = f"{args.model}" + (" (tiny random weights: meaningless numbers)" if args.model.startswith("tiny-random/") else "")
    for g, s in summaries.items():
        title = (f"[{g}] test accuracy, {s['n_test']} test / {s['n_val']} val per task, seeds {s['seeds']}, "
                 f"layer per seed {s['best_layer_per_seed']} (taskvec residual l; official L = "
                 f"{s['best_layer_per_seed_official']})"
                 + (f" (additive: {s['best_additive_layer_per_seed']})" if "best_additive_layer_per_seed" in s else "")
                 + (" (case-insensitive)" if s["case_insensitive"] else ""))
        print()
        print(format_table(s, task_ids, title))
        print(f"protocol {s['protocol']}; layer: {s['layer_rule']}")
        if "cosine" in s:
            cos = s["cosine"]["Avg"]
            print(f"cosine({src} vs {args.model}) per layer, avg over tasks: " + " ".join(f"{c:.2f}" for c in cos))
        curves = {**s["val_curves"], "Avg": s["val_curve_avg"]}
        prm = {**s["val_prompt"], "Avg": sum(s["val_prompt"].values()) / len(s["val_prompt"])}
        nctx = {**s["val_no_context"], "Avg": sum(s["val_no_context"].values()) / len(s["val_no_context"])}
        fig = P.sweep_figure(curves, prm, nctx, s["chosen_layer"], n={**{t: s["n_val"] for t in s["val_curves"]},
                                                                       "Avg": s["n_val"] * len(s["val_curves"])},
                             title=f"Patch accuracy per layer on validation — {g}", note=model_note,
                             chosen_label=("layer chosen on validation (best mean over tasks)" if s["protocol"] == "taskvec"
                                           else f"layer {s['chosen_layer']} (official L={s['chosen_layer'] - 1}): "
                                                + s["layer_rule"]))
        P.save_figure(fig, out / f"sweep_{g}", png=not args.no_png)
        if "cosine" in s:
            P.save_figure(P.cosine_figure(s["cosine"], title=f"Cosine: {src} vs {args.model} task vectors — {g}",
                                          note=model_note, chosen_layer=s["chosen_layer"]),
                          out / f"cosine_{g}", png=not args.no_png)
    extra = {}
    if args.ensemble_sweep:
        extra["ensemble_sweep"] = _ensemble_sweep(summaries, out, args, model_note)
    if args.all_modalities:
        extra["modalities"] = modality_table(summaries)
        print("\nAll modalities (Avg over tasks, test):")
        for k, v in extra["modalities"].items():
            print(f"  {k:<36} Prompt {v['Prompt']:.2f}  Patch {v['Patch']:.2f}  "
                  f"(layer {v['layer']} taskvec = official L={v['layer'] - 1})")
    doc = {"config": {k: v for k, v in vars(args).items() if k != "func"}, "tasks": task_ids,
           "protocol": units[0].protocol, "layer_convention": next(iter(summaries.values()))["layer_convention"],
           "model": adapter.describe() if adapter is not None else {"model": args.model},
           # how the weights were actually loaded (per unit: a resumed run may mix loadings of the same files)
           "loading": [json.loads(x) for x in sorted({json.dumps(results[u].get("loading"), sort_keys=True) for u in units})],
           "summaries": summaries, **extra}
    (out / "results.json").write_text(json.dumps(doc, indent=1))
    write_csv(out / "results.csv", summaries, task_ids)
    print(f"\nwrote {out / 'results.json'}, {out / 'results.csv'} and figures in {out}")


def _ensemble_sweep(summaries, out, args, note) -> dict:
    from taskvec import plot as P

    ns = sorted({s["n_examples"] for s in summaries.values()})
    curves = {"Text Examples Patch": [], "Ensemble Patch (instruction + examples)": [],
              "Text Examples Prompt": [], "Ensemble Prompt": []}
    for n in ns:
        t = next(s for s in summaries.values() if s["n_examples"] == n and s["spec"] == "text")
        e = next(s for s in summaries.values() if s["n_examples"] == n and s["spec"] == "ensemble")
        curves["Text Examples Patch"].append(t["table"]["Text Examples Patch"]["Avg"])
        curves["Ensemble Patch (instruction + examples)"].append(e["table"]["Ensemble Patch"]["Avg"])
        curves["Text Examples Prompt"].append(t["table"]["Text Examples Prompt"]["Avg"])
        curves["Ensemble Prompt"].append(e["table"]["Ensemble Prompt"]["Avg"])
    print("\nEnsemble sweep (Avg test accuracy):  N = " + " ".join(f"{n:>5}" for n in ns))
    for k, v in curves.items():
        print(f"  {k:<40} " + " ".join(f"{x:5.2f}" for x in v))
    P.save_figure(P.ensemble_figure(ns, curves, note=note), out / "ensemble_sweep", png=not args.no_png)
    return {"n": ns, "curves": curves}
