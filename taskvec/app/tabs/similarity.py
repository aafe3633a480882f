"""Similarity tab: cosine between task vectors from text, images, instructions and a base LLM."""

from __future__ import annotations

import gradio as gr

from taskvec import plot as P
from taskvec.analysis import similarity as SI
from taskvec.app import exports as XP
from taskvec.app.common import HOST, KINDS, MODEL, Page, bar, guard, spec_of, tasks_of, wire


@guard
def run_similarity(state, names, kinds, layer, base, center, png, progress=gr.Progress()):
    adapter = HOST.require()
    src = HOST.source(base) if (base or "").strip() else None
    res = SI.similarity(adapter, tasks_of(state, names), int(layer), [spec_of(k) for k in kinds], src,
                        center=bool(center), progress=bar(progress, "Tasks"))
    title = f"Cosine similarity of task vectors at layer {res.layer}" + (" (mean subtracted)" if res.centered else "")
    fig = P.cosine_heatmap(res.matrix, res.labels, title)
    return fig, XP.export_all("similarity", res.rows(), {"labels": res.labels}, {"similarity": fig}, png=png)


def build(page: Page) -> None:
    c: dict = {"state": page.state, "png": page.png}
    with gr.Tab("Similarity"):
        with gr.Row():
            c["names"] = gr.CheckboxGroup(page.names, value=page.names[:3], label="Tasks")
            c["kinds"] = gr.CheckboxGroup(KINDS, value=KINDS, label="Specified by")
            c["layer"] = page.layer_slider("Layer (residual, 0 = embeddings)")
            c["base"] = gr.Textbox(label="Base LLM to compare (optional, same hidden size)",
                                   placeholder="HuggingFaceTB/SmolLM2-135M-Instruct")
            c["center"] = gr.Checkbox(False, label="Subtract the mean vector first (contrast between tasks)")
        btn = gr.Button("Cosine matrix", variant="primary")
        plot = gr.Plot(show_label=False)
        files = gr.File(label="Exports", file_count="multiple")
    page.task_pickers.append(c["names"])
    wire(btn.click, run_similarity, c, [plot, files], api_name="similarity", **MODEL)
