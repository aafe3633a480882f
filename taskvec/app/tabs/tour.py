"""Guided tour tab: the paper's story in four steps with Back / Next (and the arrow keys); the steps
themselves: ``taskvec.app.tour``. For the default model the numbers are precomputed, so it is instant."""

from __future__ import annotations

import gradio as gr

from taskvec.app import tour as TOUR
from taskvec.app.session import locked
from taskvec.app.view import reveal
from taskvec.app.common import HOST, MODEL, Page, bar, guard, wire


@guard
@locked  # one model computation at a time (see app/session.py)
def run_tour(state, step, progress=gr.Progress()):
    """One tour step; the tour's numbers are kept in the session (computed once per model)."""
    adapter = HOST.require()
    data = (state or {}).get("tour")
    if not data or data.get("model") != adapter.model_id:
        data = TOUR.tour_data(adapter, bar(progress, "Scoring image queries"))
    i = TOUR.STEPS.index(step) if step in TOUR.STEPS else 0
    v = TOUR.tour_view(adapter, data, i)
    return ({**(state or {}), "tour": data}, v.markdown, v.figure,
            gr.Image(value=v.image, visible=v.image is not None), gr.Markdown(v.answers, visible=bool(v.answers)))


def move(step, delta: int):
    i = TOUR.STEPS.index(step) if step in TOUR.STEPS else 0
    return TOUR.STEPS[max(0, min(len(TOUR.STEPS) - 1, i + delta))]


def build(page: Page) -> None:
    c: dict = {"state": page.state}
    with gr.Tab("Guided tour", elem_id="tab-tour") as tab:
        gr.Markdown("What the paper found, in four steps on the loaded model. **Back / Next** or the ← → keys.",
                    elem_classes=["tab-intro"])
        with gr.Row(equal_height=True, elem_id="tour-nav"):
            back = gr.Button("← Back", scale=0, min_width=130, elem_id="tour-back")
            c["step"] = gr.Radio(list(TOUR.STEPS), value=TOUR.STEPS[0], show_label=False, scale=6, elem_id="tour-step")
            nxt = gr.Button("Next →", scale=0, min_width=130, variant="primary", elem_id="tour-next")
        md = gr.Markdown(elem_id="tour-text")
        with gr.Row():
            plot = gr.Plot(show_label=False, scale=3, elem_id="tour-plot")
            with gr.Column(scale=1, min_width=220):
                image = gr.Image(label="the query image", visible=False, interactive=False, height=200,
                                 elem_id="tour-image")
                answers = gr.Markdown(visible=False, elem_id="tour-answers")
    outs = [page.state, md, plot, image, answers]
    back.click(lambda s: move(s, -1), c["step"], c["step"], api_visibility="private", queue=False)
    nxt.click(lambda s: move(s, +1), c["step"], c["step"], api_visibility="private", queue=False)
    reveal(wire(c["step"].change, run_tour, c, outs, api_name="tour", **MODEL), "tour-nav")
    reveal(wire(tab.select, run_tour, c, outs, api_visibility="private", **MODEL), "tour-nav")
    page.results += [md, plot]
