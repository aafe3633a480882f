"""Clusters tab: per-set task vectors projected to 2-D, colour = task, symbol = modality (paper Fig. 4)."""

from __future__ import annotations

import gradio as gr

from taskvec import plot as P
from taskvec.analysis import clusters as CL
from taskvec.app import exports as XP
from taskvec.app.common import HOST, KINDS, MODEL, Page, bar, guard, spec_of, tasks_of, wire


@guard
def run_clusters(state, names, kinds, layer, method, what, n_sets, png, progress=gr.Progress()):
    res = CL.clusters(HOST.require(), tasks_of(state, names), int(layer), [spec_of(k) for k in kinds], method, what,
                      n_sets=int(n_sets), progress=bar(progress, "Tasks"))
    axes = tuple(f"PC {i + 1} ({v:.0%} of variance)" for i, v in enumerate(res.explained)) if res.explained else None
    title = f"{method.upper()} of {what} at layer {res.layer}"
    fig = P.cluster_figure(res.xy, res.tasks, res.modalities, title, hover=res.hover, axis_titles=axes,
                           note="t-SNE/UMAP distances are not faithful; the silhouettes are computed in the original space")
    return fig, res.summary(), XP.export_all("clusters", res.rows(), {"title": title}, {"clusters": fig}, png=png)


def build(page: Page) -> None:
    c: dict = {"state": page.state, "png": page.png}
    with gr.Tab("Clusters"):
        with gr.Row():
            c["names"] = gr.CheckboxGroup(page.names, value=page.names, label="Tasks")
            c["kinds"] = gr.CheckboxGroup(KINDS, value=KINDS[:2], label="Specified by")
        with gr.Row():
            c["layer"] = page.layer_slider("Layer (residual, 0 = embeddings)")
            c["method"] = gr.Radio(["tsne", "umap", "pca"], value="tsne", label="Projection")
            c["what"] = gr.Radio(["task vectors", "context embeddings"], value="task vectors", label="Points")
            c["n_sets"] = gr.Slider(2, 30, value=10, step=1, label="example sets per task and modality")
        btn = gr.Button("Project", variant="primary")
        sil = gr.Markdown()
        plot = gr.Plot(show_label=False)
        files = gr.File(label="Exports", file_count="multiple")
    page.task_pickers.append(c["names"])
    wire(btn.click, run_clusters, c, [plot, sil, files], api_name="clusters", **MODEL)
