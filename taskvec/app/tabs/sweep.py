"""Layer sweep tab: patch accuracy per layer over a task's test queries (paper Fig. 10), or P(expected)
for one query of the user's."""

from __future__ import annotations

import gradio as gr

from taskvec import plot as P
from taskvec.analysis import sweep as SW
from taskvec.analysis.compare import suggested_layer
from taskvec.app import exports as XP
from taskvec.app import inputs as IN
from taskvec.app.common import HOST, KINDS, MODEL, SPEC_OF, Page, bar, guard, spec_of, tasks_of, wire


@guard
def run_sweep(state, task, vector_kind, query_kind, n_queries, query_text, query_image, expected, png,
              progress=gr.Progress()):
    adapter = HOST.require()
    t = tasks_of(state, task)[0]
    if (query_text or "").strip() or query_image:
        res = SW.query_sweep(adapter, t, spec_of(vector_kind), IN.query(query_text, query_image), expected or "")
        title = f"{t.id}: P({(expected or '').strip()!r}) for your query, {SPEC_OF[vector_kind]} vector patched per layer"
    else:
        res = SW.task_sweep(adapter, t, spec_of(vector_kind), query_kind, int(n_queries),
                            progress=bar(progress, "Scoring queries"))
        title = f"{t.id}: {SPEC_OF[vector_kind]} vector patched into {res.n} {query_kind} queries (test split)"
    fig = P.sweep_figure(res.values, res.prompt, res.no_context, chosen_layer=suggested_layer(adapter),
                         n=res.n if res.n > 1 else None, layers=res.layers, title=title, ylabel=res.ylabel,
                         chosen_label="suggested layer")
    return fig, XP.export_all("sweep", res.rows(), {"title": title, "model": adapter.model_id}, {"sweep": fig}, png=png)


def build(page: Page) -> None:
    c: dict = {"state": page.state, "png": page.png}
    with gr.Tab("Layer sweep"):
        with gr.Row():
            c["task"] = gr.Dropdown(page.names, value=page.names[0], label="Task")
            c["vector_kind"] = gr.Radio(KINDS, value="text examples", label="Vector from")
            c["query_kind"] = gr.Radio(["text", "image"], value="image", label="Queries as")
            c["n_queries"] = gr.Slider(1, 100, value=20, step=1, label="test queries (vectors from the val split)")
        with gr.Accordion("Or one query of your own: plot P(expected answer) per layer", open=False):
            with gr.Row():
                c["query_text"] = gr.Textbox(label="Query text")
                c["query_image"] = gr.Image(type="filepath", label="or query image", height=140)
                c["expected"] = gr.Textbox(label="Expected answer (its first token is scored)")
        btn = gr.Button("Patch at every layer", variant="primary")
        plot = gr.Plot(show_label=False)
        files = gr.File(label="Exports", file_count="multiple")
    page.task_pickers.append(c["task"])
    wire(btn.click, run_sweep, c, [plot, files], api_name="layer_sweep", **MODEL)
