"""Clusters tab: per-set task vectors projected to 2-D, colour = task, symbol = modality (paper Fig. 4)."""

from __future__ import annotations

from contextlib import nullcontext

import gradio as gr

from taskvec import plot as P
from taskvec.analysis import clusters as CL
from taskvec.app import exports as XP
from taskvec.app.session import HEAVY, MODEL_LOCK, prefill, vector_cache
from taskvec.app.view import caption, reveal
from taskvec.app.common import HOST, KINDS, MODEL, Page, bar, guard, spec_of, tasks_of, wire
from taskvec.app.common import capped, layer_of


@guard
def run_clusters(state, names, kinds, layer, method, what, n_sets, png, progress=gr.Progress()):
    adapter, tasks, mods = HOST.require(), tasks_of(state, names), [spec_of(k) for k in kinds]
    sets, cache = capped(n_sets, "cluster_sets", "example sets per task and modality"), vector_cache(state)
    cache = {} if cache is None else cache
    if what == "task vectors":  # extracted one vector at a time (the model queue can run between them) ...
        prefill(adapter, tasks, mods, cache, n_sets=sets, progress=bar(progress, "Task vectors"))
    with (MODEL_LOCK if what != "task vectors" else nullcontext()):  # ... then projected without the model
        res = CL.clusters(adapter, tasks, layer_of(layer, adapter), mods, method, what, n_sets=sets, cache=cache,
                          progress=bar(progress, "Tasks"))
    axes = tuple(f"PC {i + 1} ({v:.0%} of variance)" for i, v in enumerate(res.explained)) if res.explained else None
    title = f"{method.upper()} of {what} at layer {res.layer}"
    fig = P.cluster_figure(res.xy, res.tasks, res.modalities, title, hover=res.hover, axis_titles=axes,
                           note="t-SNE/UMAP distances are not faithful; the silhouettes are computed in the original space")
    meta = {"title": title, **caption(adapter, "clusters", method=method, points=what, layer=res.layer,
                                      tasks=len(tasks))}
    return fig, res.summary(), XP.export_all("clusters", res.rows(), meta, {"clusters": fig}, png=png)


def build(page: Page) -> None:
    c: dict = {"state": page.state, "png": page.png}
    with gr.Tab("Clusters", elem_id="tab-clusters"):
        gr.Markdown("**What am I looking at?** Task vectors from many example sets projected to 2-D, colour = task, "
                    "symbol = how the task was given (paper Fig. 4). Grouping by colour and mixing of symbols means one "
                    "representation across modalities. t-SNE/UMAP distances are not faithful; the silhouettes are "
                    "computed in the original space.", elem_classes=["tab-intro"])
        with gr.Row():
            c["names"] = gr.CheckboxGroup(page.names, value=page.names, label="Tasks")
            c["kinds"] = gr.CheckboxGroup(KINDS, value=KINDS[:2], label="Specified by")
        with gr.Row():
            c["layer"] = page.layer_slider("Layer (residual, 0 = embeddings)")
            c["method"] = gr.Radio(["tsne", "umap", "pca"], value="tsne", label="Projection")
            c["what"] = gr.Radio(["task vectors", "context embeddings"], value="task vectors", label="Points")
            c["n_sets"] = gr.Slider(2, 30, value=10, step=1, label="example sets per task and modality")
        btn = gr.Button("Project", variant="primary")
        sil = gr.Markdown(elem_id="clusters-result")
        plot = gr.Plot(show_label=False)
        files = gr.File(label="Exports", file_count="multiple")
    page.task_pickers.append(c["names"])
    page.results += [plot, sil, files]
    reveal(wire(btn.click, run_clusters, c, [plot, sil, files], api_name="clusters", **HEAVY), "clusters-result")
