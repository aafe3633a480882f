"""Clusters tab: per-set task vectors projected to 2-D, colour = task, symbol = modality (paper Fig. 4)."""

from __future__ import annotations

from contextlib import nullcontext

import gradio as gr

from taskvec import plot as P
from taskvec.analysis import clusters as CL
from taskvec.app import exports as XP
from taskvec.app.session import HEAVY, MODEL_LOCK, prefill, vector_cache
from taskvec.app.view import caption, final, layer_slider, reveal
from taskvec.app.common import HOST, KINDS, MODEL, Page, bar, guard, spec_of, tasks_of, wire
from taskvec.app.common import capped, layer_of


def cluster_steps(state, names, kinds, layer, method, what, n_sets, png, progress=gr.Progress()):
    """The clusters view as it refines: the projection of the tasks read so far after each chunk of tasks whose
    vectors had to be computed ("k of K tasks" in the title, no exports yet), then the final result with its
    exports (the same as one ``CL.clusters`` call)."""
    adapter, tasks, mods = HOST.require(), tasks_of(state, names), [spec_of(k) for k in kinds]
    sets, cache = capped(n_sets, "cluster_sets", "example sets per task and modality"), vector_cache(state)
    cache = {} if cache is None else cache
    L, vectors = layer_of(layer, adapter), what == "task vectors"

    def extract(chunk) -> bool:  # task vectors: one at a time under the model lock (the model queue runs between)
        n = len(cache)
        prefill(adapter, chunk, mods, cache, n_sets=sets, progress=bar(progress, "Task vectors"))
        return len(cache) > n  # nothing new: no partial projection for this chunk

    steps = CL.cluster_steps(adapter, tasks, L, mods, method, what, n_sets=sets, cache=cache,
                             progress=None if vectors else bar(progress, "Tasks"), every=max(1, -(-len(tasks) // PARTS)), before=extract if vectors else None)
    while True:
        with (nullcontext() if vectors else MODEL_LOCK):  # context embeddings: the step runs the model
            step = next(steps, None)
        if step is None:
            return
        done, total, res = step
        axes = tuple(f"PC {i + 1} ({v:.0%} of variance)" for i, v in enumerate(res.explained)) if res.explained else None
        title = f"{method.upper()} of {what} at layer {res.layer}"
        more = "" if done == total else f" · {done} of {total} tasks so far"
        fig = P.cluster_figure(res.xy, res.tasks, res.modalities, title + more, hover=res.hover, axis_titles=axes,
                               note="t-SNE/UMAP distances are not faithful; the silhouettes are computed in the original space")
        if done < total:
            yield fig, f"*Refining: {done} of {total} tasks ({len(res.tasks)} points) so far…* " + res.summary(), None
            continue
        meta = {"title": title, **caption(adapter, "clusters", method=method, points=what, layer=res.layer,
                                          tasks=len(tasks))}
        yield fig, res.summary(), XP.export_all("clusters", res.rows(), meta, {"clusters": fig}, png=png)


PARTS = 3  # at most this many partial projections before the final one
stream_clusters = guard(cluster_steps)  # the button: the projection refines task by task
run_clusters = guard(final(cluster_steps))  # the final result only (API-compatible callers, tests, benchmarks)


def build(page: Page) -> None:
    c: dict = {"state": page.state, "png": page.png}
    with gr.Tab("Clusters", elem_id="tab-clusters"):
        gr.Markdown("**What am I looking at?** Task vectors from many example sets projected to 2-D, colour = task, "
                    "symbol = how the task was given (paper Fig. 4). Grouping by colour and mixing of symbols means one "
                    "representation across modalities. t-SNE/UMAP distances are not faithful; the silhouettes are "
                    "computed in the original space.", elem_classes=["tab-intro"])
        with gr.Row(elem_id="clusters-view", elem_classes=["tv-view"]):
            with gr.Column(elem_classes=["tv-inputs"]):
                with gr.Row():
                    c["names"] = gr.CheckboxGroup(page.names, value=page.names, label="Tasks")
                    c["kinds"] = gr.CheckboxGroup(KINDS, value=KINDS[:2], label="Specified by")
                with gr.Row():
                    c["layer"] = layer_slider(page)
                    c["method"] = gr.Radio(["tsne", "umap", "pca"], value="tsne", label="Projection")
                btn = gr.Button("Project", variant="primary")
                with gr.Accordion("More settings: points, example sets", open=False):
                    with gr.Row():
                        c["what"] = gr.Radio(["task vectors", "context embeddings"], value="task vectors",
                                             label="Points")
                        c["n_sets"] = gr.Slider(2, 30, value=10, step=1, label="example sets per task and modality")
            with gr.Column(elem_classes=["tv-results"]):
                sil = gr.Markdown(elem_id="clusters-result")
                plot = gr.Plot(show_label=False)
                files = gr.File(label="Exports", file_count="multiple")
    page.task_pickers.append(c["names"])
    page.results += [plot, sil, files]
    reveal(wire(btn.click, stream_clusters, c, [plot, sil, files], api_name="clusters", **HEAVY), "clusters-result", present="clusters-view")
