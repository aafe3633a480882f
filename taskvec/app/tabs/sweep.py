"""Layer sweep tab: patch accuracy per layer over a task's test queries (paper Fig. 10), or P(expected)
for one query of the user's."""

from __future__ import annotations

import gradio as gr

from taskvec import plot as P
from taskvec.analysis import sweep as SW
from taskvec.analysis.compare import suggested_layer
from taskvec.app import exports as XP
from taskvec.app import inputs as IN
from taskvec.app import picks as PK
from taskvec.app import vocab as VO
from taskvec.app.session import locked, session_results
from taskvec.app.view import caption, reveal
from taskvec.app.common import HOST, KINDS, MODEL, SPEC_OF, Page, bar, guard, spec_of, tasks_of, wire
from taskvec.app.common import PUBLIC_CAPS, capped


@guard
@locked  # one model computation at a time (see app/session.py)
def run_sweep(state, task, vector_kind, query_kind, n_queries, query_text, query_image, expected, png,
              progress=gr.Progress()):
    adapter = HOST.require()
    t = tasks_of(state, task)[0]
    warn = VO.warning(adapter, "" if query_image else query_text, expected) if (query_text or "").strip() or query_image else ""
    if warn:
        gr.Warning(warn, duration=15)
    if (query_text or "").strip() or query_image:
        res = SW.query_sweep(adapter, t, spec_of(vector_kind), IN.query(query_text, query_image), expected or "")
        title = f"{t.id}: P({(expected or '').strip()!r}) for your query, {SPEC_OF[vector_kind]} vector patched per layer"
    else:
        n = capped(n_queries, "n_queries", "test queries")
        cache = session_results(state, "sweeps")  # the same settings again: instant
        key = (adapter.model_id, t.id, t.items, vector_kind, query_kind, n)
        res = cache.get(key) if cache is not None else None
        if res is None:
            res = SW.task_sweep(adapter, t, spec_of(vector_kind), query_kind, n, progress=bar(progress, "Scoring queries"))
            if cache is not None:
                cache[key] = res
        title = f"{t.id}: {SPEC_OF[vector_kind]} vector patched into {res.n} {query_kind} queries (test split)"
    fig = P.sweep_figure(res.values, res.prompt, res.no_context, chosen_layer=suggested_layer(adapter),
                         n=res.n if res.n > 1 else None, layers=res.layers, title=title, ylabel=res.ylabel,
                         chosen_label="suggested layer")
    meta = {"title": title, **caption(adapter, "layer sweep", task=t.id, vector=vector_kind, queries=query_kind, n=res.n)}
    return fig, XP.export_all("sweep", res.rows(), meta, {"sweep": fig}, png=png)


def defaults() -> tuple[str, int]:
    """(task, queries): where the measured effect is largest on the default model (``taskvec.app.picks``),
    else country-capital on 20 queries (any other model: quick to run)."""
    a = HOST.adapter
    data = PK.load_picks(a.model_id) if a is not None else None
    n_max = PUBLIC_CAPS["n_queries"] if getattr(HOST, "public", False) else 100  # a public app's cap
    if data:
        return data["sweep_default"]["task"], min(n_max, int(data["sweep_default"]["n_queries"]))
    return "country-capital", min(n_max, 20)


def build(page: Page) -> None:
    c: dict = {"state": page.state, "png": page.png}
    task0, n0 = defaults()
    with gr.Tab("Layer sweep", elem_id="tab-sweep"):
        gr.Markdown("**What am I looking at?** The task vector patched at each layer in turn, scored over held-out "
                    "queries (paper Fig. 10): the layers where the task is represented light up; dotted = Prompt, "
                    "dashed = No Context, band = ±1 binomial standard error.", elem_classes=["tab-intro"])
        with gr.Row(elem_id="sweep-view", elem_classes=["tv-view"]):
            with gr.Column(elem_classes=["tv-inputs"]):
                with gr.Row():
                    c["task"] = gr.Dropdown(page.names, value=task0 if task0 in page.names else page.names[0], label="Task")
                    c["vector_kind"] = gr.Radio(KINDS, value="text examples", label="Vector from")
                    c["query_kind"] = gr.Radio(["text", "image"], value="image", label="Queries as")
                    c["n_queries"] = gr.Slider(1, 100, value=n0, step=1, label="test queries (vectors from the val split)")
                with gr.Accordion("Or one query of your own: plot P(expected answer) per layer", open=False):
                    with gr.Row():
                        c["query_text"] = gr.Textbox(label="Query text")
                        c["query_image"] = IN.image_upload(label="or query image", height=140)
                        c["expected"] = gr.Textbox(label="Expected answer (its first token is scored)")
                btn = gr.Button("Patch at every layer", variant="primary")
            with gr.Column(elem_classes=["tv-results"]):
                plot = gr.Plot(show_label=False, elem_id="sweep-plot")
                files = gr.File(label="Exports", file_count="multiple")
    page.task_pickers.append(c["task"])
    page.results += [plot, files]
    reveal(wire(btn.click, run_sweep, c, [plot, files], api_name="layer_sweep", **MODEL), "sweep-plot", present="sweep-view")
