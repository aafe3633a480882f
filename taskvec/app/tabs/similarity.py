"""Similarity tab: cosine between task vectors from text, images, instructions and a base LLM."""

from __future__ import annotations

import gradio as gr

from taskvec import plot as P
from taskvec.analysis import similarity as SI
from taskvec.app import exports as XP
from taskvec.app.session import HEAVY, MODEL_LOCK, prefill, vector_cache
from taskvec.app.view import caption, layer_slider, reveal
from taskvec.app.common import HOST, KINDS, MODEL, Page, bar, guard, spec_of, tasks_of, wire
from taskvec.app.common import layer_of


@guard
def run_similarity(state, names, kinds, layer, base, center, png, progress=gr.Progress()):
    adapter = HOST.require()
    src = HOST.source(base, adapter) if (base or "").strip() else None
    tasks, mods, cache = tasks_of(state, names), [spec_of(k) for k in kinds], vector_cache(state)
    cache = {} if cache is None else cache
    prefill(adapter, tasks, mods, cache, progress=bar(progress, "Task vectors"))  # one vector per lock
    with MODEL_LOCK:  # a base LLM's vectors are extracted here
        res = SI.similarity(adapter, tasks, layer_of(layer, adapter), mods, src, center=bool(center), cache=cache)
    title = f"Cosine similarity of task vectors at layer {res.layer}" + (" (mean subtracted)" if res.centered else "")
    fig = P.cosine_heatmap(res.matrix, res.labels, title)
    meta = {"labels": res.labels, **caption(adapter, "similarity", layer=res.layer, centered=res.centered)}
    return fig, XP.export_all("similarity", res.rows(), meta, {"similarity": fig}, png=png)


def build(page: Page) -> None:
    c: dict = {"state": page.state, "png": page.png}
    with gr.Tab("Similarity", elem_id="tab-similarity"):
        gr.Markdown("**What am I looking at?** Cosine similarity between task vectors of tasks given as text, image "
                    "examples or instruction (and a base LLM's): high within a task across modalities is the paper's "
                    "cross-modal finding (Sec. 4, Fig. 5).", elem_classes=["tab-intro"])
        with gr.Row(elem_id="similarity-view", elem_classes=["tv-view"]):
            with gr.Column(elem_classes=["tv-inputs"]):
                with gr.Row():
                    c["names"] = gr.CheckboxGroup(page.names, value=page.names[:3], label="Tasks")
                    c["kinds"] = gr.CheckboxGroup(KINDS, value=KINDS, label="Specified by")
                    c["layer"] = layer_slider(page)
                    c["base"] = gr.Textbox(label="Base LLM to compare (optional, same hidden size)",
                                           placeholder="HuggingFaceTB/SmolLM2-135M-Instruct")
                    c["center"] = gr.Checkbox(False, label="Subtract the mean vector first (contrast between tasks)")
                btn = gr.Button("Cosine matrix", variant="primary")
            with gr.Column(elem_classes=["tv-results"]):
                plot = gr.Plot(show_label=False, elem_id="similarity-plot")
                files = gr.File(label="Exports", file_count="multiple")
    page.task_pickers.append(c["names"])
    page.results += [plot, files]
    reveal(wire(btn.click, run_similarity, c, [plot, files], api_name="similarity", **HEAVY), "similarity-plot", present="similarity-view")
