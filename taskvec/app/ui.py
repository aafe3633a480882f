"""taskvec in the browser: the Gradio Blocks and their handlers (``python app.py`` serves them).

A thin Gradio UI: every handler is a few lines into ``taskvec.analysis`` and the app's
plain-Python helpers (``taskvec.app.inputs``, ``playground``, ...). One model per process, shared read-only by all sessions; per-session data in
``gr.State``; every model computation goes through one queue slot (``concurrency_id="model"``).
"""

from __future__ import annotations

import argparse
import functools
import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import gradio as gr  # noqa: E402

from taskvec.errors import TaskvecError  # noqa: E402
from taskvec import plot as P  # noqa: E402
from taskvec.analysis.compare import suggested_layer  # noqa: E402
from taskvec.app import examples as EX
from taskvec.app import exports as XP
from taskvec.app import inputs as IN
from taskvec.app import library as LIB
from taskvec.app import playground as PG  # noqa: E402
from taskvec.app import tour as TOUR
from taskvec.analysis import clusters as CL, phases as PH, similarity as SI, summaries as SU  # noqa: E402
from taskvec.analysis import sweep as SW  # noqa: E402
from taskvec.app.host import ModelHost, default_model, model_choices  # noqa: E402

HOST = ModelHost()
MODEL = dict(concurrency_limit=1, concurrency_id="model")  # one model computation at a time, all sessions
KINDS = ["text examples", "image examples", "instruction"]


def guard(fn):
    """Typed taskvec errors become a visible error box; anything else too, and the app stays up."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except TaskvecError as e:
            raise gr.Error(str(e), duration=None) from None
        except Exception as e:  # noqa: BLE001 - show it, keep serving
            raise gr.Error(f"Unexpected error ({type(e).__name__}): {e}", duration=None) from None
    return wrapper


def tasks_of(state, names=None):
    lib = LIB.paper_tasks() + list((state or {}).get("user_tasks", []))
    if names is None:
        return lib
    names = [names] if isinstance(names, str) else list(names)
    found = [t for t in lib if t.id in names]
    if not found:
        raise gr.Error("Pick at least one task from the library.")
    return found


def task_names(state):
    return [t.id for t in tasks_of(state)]


def layer_sliders(n=4):
    a = HOST.adapter
    if a is None:
        return [gr.Slider() for _ in range(n)]
    return [gr.Slider(minimum=0, maximum=a.n_layers, value=suggested_layer(a), step=1) for _ in range(n)]


# ---- handlers ---------------------------------------------------------------------------
def load_model(name, progress=gr.Progress()):
    banner = HOST.load(name, progress)
    if HOST.error:
        gr.Warning("Model load failed; the previous model stays loaded.")
    return [banner, *layer_sliders()]


@guard
def run_patch(state, kind, examples, image_files, image_answers, instruction, query_text, query_image, expected,
              layer, override, ensemble, w_text, w_image, w_instr, source, vector_file, n_sets, png, progress=gr.Progress()):
    req = PG.PlayRequest(kind, examples, image_files or [], image_answers, instruction, query_text, query_image,
                         int(layer), bool(override), bool(ensemble), (w_text, w_image, w_instr), int(n_sets),
                         expected=expected or "")
    adapter = HOST.require()
    cache = dict((state or {}).get("vector_cache", {}))
    res = PG.run_playground(adapter, req, HOST.source(source), IN.read_vector(vector_file), progress, cache)
    cols = res.columns + [None] * (4 - len(res.columns))
    figs = [PG.column_figure(c, res) for c in cols]
    files = XP.export_all("patch", res.rows(), res.as_dict(), {c.title: f for c, f in zip(res.columns, figs)},
                          res.vector, res.layer, png)
    return [{**(state or {}), "vector_cache": cache}, *[PG.column_markdown(c, res) for c in cols], *figs,
            gr.Column(visible=len(res.columns) > 3), PG.summary_markdown(res), files]


SPEC_OF = {"text examples": "text", "image examples": "image", "instruction": "instruction"}


def _spec(kind: str) -> str:
    if kind not in SPEC_OF:
        raise gr.Error(f"Unknown way of giving the task {kind!r}; pick one of {', '.join(SPEC_OF)}.")
    return SPEC_OF[kind]


def _bar(progress, desc: str):
    return None if progress is None else (lambda i, n: progress((i, n), desc=desc))


@guard
def run_sweep(state, task, vector_kind, query_kind, n_queries, query_text, query_image, expected, png,
              progress=gr.Progress()):
    adapter = HOST.require()
    t = tasks_of(state, task)[0]
    own = (query_text or "").strip() or query_image
    if own:
        res = SW.query_sweep(adapter, t, _spec(vector_kind), IN.query(query_text, query_image), expected or "")
        title = f"{t.id}: P({(expected or '').strip()!r}) for your query, {SPEC_OF[vector_kind]} vector patched per layer"
    else:
        res = SW.task_sweep(adapter, t, _spec(vector_kind), query_kind, int(n_queries),
                            progress=_bar(progress, "Scoring queries"))
        title = f"{t.id}: {SPEC_OF[vector_kind]} vector patched into {res.n} {query_kind} queries (test split)"
    fig = P.sweep_figure(res.values, res.prompt, res.no_context, chosen_layer=suggested_layer(adapter),
                         n=res.n if res.n > 1 else None, layers=res.layers, title=title, ylabel=res.ylabel,
                         chosen_label="suggested layer")
    return fig, XP.export_all("sweep", res.rows(), {"title": title, "model": adapter.model_id}, {"sweep": fig}, png=png)


@guard
def run_lens(state, task, kind, n_sets, n_examples, seed, task_word, k, png, input_word="", progress=gr.Progress()):
    res = PH.phases(HOST.require(), tasks_of(state, task)[0], _spec(kind), int(n_sets), int(n_examples), int(seed),
                    (input_word or "").strip() or ":", (task_word or "").strip() or None, int(k),
                    progress=_bar(progress, "Forward passes"))
    ph = res.curve
    figs = (P.phase_figure(ph.mean.numpy(), ph.std.numpy(), ph.tokens, ph.labels,
                           f"{res.task} ({res.modality} examples): relative probability of input / task / answer",
                           n_runs=ph.per_run.shape[0]),
            P.lens_heatmap(res.topk.tokens, res.topk.probs, "Logit lens at the delimiter ':' (first example set)"),
            P.top1_figure(res.top1, "Top-1 lens token per layer (share of example sets)"))
    files = XP.export_all("lens", res.rows(), {"prompt": res.prompt}, dict(zip(("phases", "lens", "top1"), figs)), png=png)
    return [*figs, f"First example set's prompt (the heatmap's):\n\n```\n{res.prompt[-1500:]}\n```", files]


@guard
def run_summaries(state, names, layer, k, progress=gr.Progress()):
    res = SU.summaries(HOST.require(), tasks_of(state, names), int(layer), k=int(k), progress=_bar(progress, "Tasks"))
    rows = [{"task": t, **{m: ", ".join(f"{P.show_token(tok)} ({p:.3f})" for tok, p in toks) for m, toks in row.items()}}
            for t, row in res.table().items()]
    return rows_table(rows), XP.export_all("summaries", res.rows(), {"layer": int(layer)}, {})


@guard
def run_clusters(state, names, kinds, layer, method, what, n_sets, png, progress=gr.Progress()):
    res = CL.clusters(HOST.require(), tasks_of(state, names), int(layer), [_spec(k) for k in kinds], method, what,
                      n_sets=int(n_sets), progress=_bar(progress, "Tasks"))
    axes = tuple(f"PC {i + 1} ({v:.0%} of variance)" for i, v in enumerate(res.explained)) if res.explained else None
    title = f"{method.upper()} of {what} at layer {res.layer}"
    fig = P.cluster_figure(res.xy, res.tasks, res.modalities, title, hover=res.hover, axis_titles=axes,
                           note="t-SNE/UMAP distances are not faithful; the silhouettes are computed in the original space")
    return fig, res.summary(), XP.export_all("clusters", res.rows(), {"title": title}, {"clusters": fig}, png=png)


@guard
def run_similarity(state, names, kinds, layer, base, center, png, progress=gr.Progress()):
    adapter = HOST.require()
    src = HOST.source(base) if (base or "").strip() else None
    res = SI.similarity(adapter, tasks_of(state, names), int(layer), [_spec(k) for k in kinds], src,
                        center=bool(center), progress=_bar(progress, "Tasks"))
    title = f"Cosine similarity of task vectors at layer {res.layer}" + (" (mean subtracted)" if res.centered else "")
    fig = P.cosine_heatmap(res.matrix, res.labels, title)
    return fig, XP.export_all("similarity", res.rows(), {"labels": res.labels}, {"similarity": fig}, png=png)


@guard
def run_tour(step, progress=gr.Progress()):
    return TOUR.tour_step(HOST.require(), step, progress)


@guard
def add_task(state, name, examples, instruction, task_word):
    task = LIB.user_task(name, examples, instruction, task_word)
    kept = [t for t in (state or {}).get("user_tasks", []) if t.id != task.id]
    if len(kept) >= LIB.MAX_USER_TASKS:
        raise gr.Error(f"This session holds {LIB.MAX_USER_TASKS} tasks already; reload the page to start afresh.")
    state = {**(state or {}), "user_tasks": kept + [task]}
    names = task_names(state)
    gr.Info(f"Added task {task.id!r} ({len(task.items)} examples) to this session's library.")
    return [state, gr.Dropdown(choices=names), gr.Dropdown(choices=names),
            *[gr.CheckboxGroup(choices=names) for _ in range(3)]]


def rows_table(rows):
    keys = list(dict.fromkeys(k for r in rows for k in r))
    return gr.Dataframe(value=[[r.get(k, "") for k in keys] for r in rows], headers=keys)


# ---- layout -----------------------------------------------------------------------------
def build() -> gr.Blocks:
    names = [t.id for t in LIB.paper_tasks()]
    L = HOST.adapter.n_layers if HOST.adapter else 32
    best = suggested_layer(HOST.adapter) if HOST.adapter else 0
    first = dict(zip(EX.FIELDS, EX.playground_examples()[0]))  # the page opens ready to Run
    with gr.Blocks(title="taskvec: task vectors in vision-language models") as demo:
        state = gr.State({"user_tasks": []})
        gr.Markdown("# taskvec — task vectors across text and images\nGive a task by **text examples**, **image "
                    "examples** or an **instruction**; see what the model answers with no context, with the task "
                    "in the prompt, and with the task's vector **patched** into the query's forward pass.")
        with gr.Row(equal_height=True):
            model_box = gr.Dropdown(model_choices(), value=HOST.adapter.model_id if HOST.adapter else default_model(),
                                    allow_custom_value=True, label="Model (HF id, local folder, organism, tiny-random/<family>)",
                                    scale=4)
            load_btn = gr.Button("Load model", scale=1)
            png = gr.Checkbox(False, label="Also export PNG figures (slower)", scale=1)
        banner = gr.Markdown(HOST.banner(), elem_id="model-banner")

        with gr.Tab("Patch playground"):
            with gr.Row():
                with gr.Column(scale=2):
                    kind = gr.Radio(KINDS, value="text examples", label="Task given as")
                    examples = gr.Textbox(first["examples"], lines=6,
                                          label="Text examples — one 'input : answer' per line",
                                          placeholder="France : Paris\nItaly : Rome\nSpain : Madrid", elem_id="examples")
                    with gr.Row():
                        image_files = gr.File(file_count="multiple", file_types=["image"], label="Example images")
                        image_answers = gr.Textbox(lines=4, label="Their answers, one per line, in upload order")
                        gallery = gr.Gallery(label="Image examples with their answers", columns=3, height=200,
                                             interactive=False)
                    instruction = gr.Textbox(first["instruction"], label="Instruction",
                                             placeholder="The capital city of the country:")
                with gr.Column(scale=1):
                    query_text = gr.Textbox(first["query_text"], label="Query (text)", placeholder="Germany",
                                            elem_id="query-text")
                    query_image = gr.Image(type="filepath", label="…or query image (used when present)",
                                           sources=["upload", "clipboard"], height=180, elem_id="query-image")
                    expected = gr.Textbox(first["expected"], label="Expected answer (optional: marks ✓/✗, green bar)",
                                          elem_id="expected")
                    layer = gr.Slider(0, L, value=best, step=1, label="Patch layer (starts at the suggested one)")
                    run_btn = gr.Button("Run: No Context | Prompt | Patch", variant="primary", elem_id="run-patch")
            with gr.Accordion("More: task overriding, ensemble, source model, saved vector", open=False):
                with gr.Row():
                    override = gr.Checkbox(label="Task overriding: instruction in the prompt, the examples' vector patched")
                    ensemble = gr.Checkbox(label="Add an Ensemble patch column")
                    w_text, w_image, w_instr = (gr.Number(1.0, label=f"ensemble weight: {k}", minimum=0) for k in KINDS)
                with gr.Row():
                    source = gr.Textbox(label="Source model for the vector (e.g. the base LLM); empty = this model")
                    vector_file = gr.File(label="Patch a saved task vector (.safetensors)", file_types=[".safetensors"])
                    n_sets = gr.Slider(1, 30, value=10, step=1, label="example sets averaged into the vector")
            gr.Examples(EX.playground_examples(), [kind, examples, image_files, image_answers, instruction,
                                                   query_text, query_image, expected], example_labels=EX.playground_labels(),
                        label="The paper's tasks: click one to fill the inputs, then Run")
            with gr.Row(elem_id="outputs"):
                outs_md, outs_fig, cols = [], [], []
                for i in range(4):
                    with gr.Column(visible=i < 3, min_width=220) as c:
                        outs_md.append(gr.Markdown(elem_classes=["method-answer"]))
                        outs_fig.append(gr.Plot(show_label=False))
                    cols.append(c)
            play_notes = gr.Markdown()
            play_files = gr.File(label="Exports: results (CSV, JSON), figures (HTML), task vector (.safetensors)",
                                 file_count="multiple")

        with gr.Tab("Layer sweep"):
            with gr.Row():
                sw_task = gr.Dropdown(names, value=names[0], label="Task")
                sw_kind = gr.Radio(KINDS, value="text examples", label="Vector from")
                sw_qkind = gr.Radio(["text", "image"], value="image", label="Queries as")
                sw_n = gr.Slider(1, 100, value=20, step=1, label="held-out queries")
            with gr.Accordion("Or one query of your own: plot P(expected answer) per layer", open=False):
                with gr.Row():
                    sw_qtext = gr.Textbox(label="Query text")
                    sw_qimg = gr.Image(type="filepath", label="or query image", height=140)
                    sw_expected = gr.Textbox(label="Expected answer (its first token is scored)")
            sw_btn = gr.Button("Patch at every layer", variant="primary")
            sw_plot = gr.Plot(show_label=False)
            sw_files = gr.File(label="Exports", file_count="multiple")

        with gr.Tab("Logit lens and phases"):
            with gr.Row():
                ln_task = gr.Dropdown(names, value=names[0], label="Task")
                ln_kind = gr.Radio(KINDS[:2], value="text examples", label="Examples as")
                ln_K = gr.Slider(2, 100, value=20, step=1, label="K example sets (band = spread)")
                ln_N = gr.Slider(1, 10, value=5, step=1, label="N examples per set")
            with gr.Row():
                ln_seed = gr.Number(0, label="seed", precision=0)
                ln_word = gr.Textbox(label="Task word (default: the task's, e.g. 'capital')")
                ln_input = gr.Textbox(label="Input token (default: the delimiter ':'; the paper used 'auf' "
                                            "for Idefics2; {query} = each set's query word)")
                ln_k = gr.Slider(1, 10, value=5, step=1, label="top-k in the heatmap")
            ln_btn = gr.Button("Read the residual stream", variant="primary")
            ln_phase = gr.Plot(show_label=False)
            with gr.Row():
                ln_heat, ln_top1 = gr.Plot(show_label=False), gr.Plot(show_label=False)
            ln_prompt = gr.Markdown()
            ln_files = gr.File(label="Exports", file_count="multiple")

        with gr.Tab("Task summaries"):
            with gr.Row():
                su_tasks = gr.CheckboxGroup(names, value=names, label="Tasks")
                su_layer = gr.Slider(0, L, value=best, step=1, label="Layer")
                su_k = gr.Slider(1, 10, value=5, step=1, label="top-k")
            su_btn = gr.Button("Decode the task vectors", variant="primary")
            su_table = gr.Dataframe(label="Top-k decodings: text examples | image examples | instruction", wrap=True)
            su_files = gr.File(label="Exports", file_count="multiple")
            with gr.Accordion("Add a task to this session's library", open=False):
                with gr.Row():
                    nt_name = gr.Textbox(label="Name", placeholder="antonyms")
                    nt_instr = gr.Textbox(label="Instruction (optional)")
                    nt_word = gr.Textbox(label="Task word (optional)")
                nt_examples = gr.Textbox(lines=5, label="Examples, one 'input : answer' per line")
                nt_btn = gr.Button("Add task")

        with gr.Tab("Clusters"):
            with gr.Row():
                cl_tasks = gr.CheckboxGroup(names, value=names, label="Tasks")
                cl_kinds = gr.CheckboxGroup(KINDS, value=KINDS[:2], label="Specified by")
            with gr.Row():
                cl_layer = gr.Slider(0, L, value=best, step=1, label="Layer")
                cl_method = gr.Radio(["tsne", "umap", "pca"], value="tsne", label="Projection")
                cl_what = gr.Radio(["task vectors", "context embeddings"], value="task vectors", label="Points")
                cl_n = gr.Slider(2, 30, value=10, step=1, label="example sets per task and modality")
            cl_btn = gr.Button("Project", variant="primary")
            cl_sil = gr.Markdown()
            cl_plot = gr.Plot(show_label=False)
            cl_files = gr.File(label="Exports", file_count="multiple")

        with gr.Tab("Similarity"):
            with gr.Row():
                si_tasks = gr.CheckboxGroup(names, value=names[:3], label="Tasks")
                si_kinds = gr.CheckboxGroup(KINDS, value=KINDS, label="Specified by")
                si_layer = gr.Slider(0, L, value=best, step=1, label="Layer")
                si_base = gr.Textbox(label="Base LLM to compare (optional, same hidden size)",
                                     placeholder="HuggingFaceTB/SmolLM2-135M-Instruct")
                si_center = gr.Checkbox(False, label="Subtract the mean vector first (contrast between tasks)")
            si_btn = gr.Button("Cosine matrix", variant="primary")
            si_plot = gr.Plot(show_label=False)
            si_files = gr.File(label="Exports", file_count="multiple")

        with gr.Tab("Guided tour"):
            gr.Markdown("Four steps on the loaded model, country → capital. Click one.")
            with gr.Row():
                tour_btns = [gr.Button(s) for s in TOUR.STEPS]
            tour_md, tour_plot = gr.Markdown(), gr.Plot(show_label=False)

        sliders = [layer, su_layer, cl_layer, si_layer]
        load_btn.click(load_model, model_box, [banner, *sliders], api_name="load_model", **MODEL)
        demo.load(HOST.banner, None, banner, api_name="model_info")
        run_btn.click(run_patch, [state, kind, examples, image_files, image_answers, instruction, query_text, query_image,
                                  expected, layer, override, ensemble, w_text, w_image, w_instr, source, vector_file, n_sets, png],
                      [state, *outs_md, *outs_fig, cols[3], play_notes, play_files], api_name="patch", **MODEL)
        sw_btn.click(run_sweep, [state, sw_task, sw_kind, sw_qkind, sw_n, sw_qtext, sw_qimg, sw_expected, png],
                     [sw_plot, sw_files], api_name="layer_sweep", **MODEL)
        ln_btn.click(run_lens, [state, ln_task, ln_kind, ln_K, ln_N, ln_seed, ln_word, ln_k, png, ln_input],
                     [ln_phase, ln_heat, ln_top1, ln_prompt, ln_files], api_name="lens", **MODEL)
        su_btn.click(run_summaries, [state, su_tasks, su_layer, su_k], [su_table, su_files], api_name="summaries", **MODEL)
        cl_btn.click(run_clusters, [state, cl_tasks, cl_kinds, cl_layer, cl_method, cl_what, cl_n, png],
                     [cl_plot, cl_sil, cl_files], api_name="clusters", **MODEL)
        si_btn.click(run_similarity, [state, si_tasks, si_kinds, si_layer, si_base, si_center, png], [si_plot, si_files],
                     api_name="similarity", **MODEL)
        for i, (b, s) in enumerate(zip(tour_btns, TOUR.STEPS), 1):
            b.click(functools.partial(run_tour, s), None, [tour_md, tour_plot], api_name=f"tour_{i}", **MODEL)
        image_files.change(IN.gallery_items, [image_files, image_answers], gallery, api_name="preview_image_examples",
                           show_progress="hidden")
        image_answers.change(IN.gallery_items, [image_files, image_answers], gallery, api_visibility="private",
                             show_progress="hidden")
        nt_btn.click(add_task, [state, nt_name, nt_examples, nt_instr, nt_word],
                     [state, sw_task, ln_task, su_tasks, cl_tasks, si_tasks], api_name="add_task")
    return demo


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="taskvec browser app")
    p.add_argument("--model", default=None, help="model to load at start (default: $TASKVEC_MODEL, organism, or SmolVLM-256M)")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                   help="interface to serve on (a Space sets GRADIO_SERVER_NAME=0.0.0.0)")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    p.add_argument("--share", action="store_true", help="create a public gradio.live link")
    args = p.parse_args(argv)
    print(HOST.load(args.model or default_model()).replace("**", ""), flush=True)
    demo = build()
    demo.queue(default_concurrency_limit=1)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, allowed_paths=[str(EX.FLAGS)], show_error=True)


if __name__ == "__main__":
    main()
