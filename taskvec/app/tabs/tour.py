"""Guided tour tab: four one-click steps on the loaded model (the steps themselves: ``taskvec.app.tour``)."""

from __future__ import annotations

import functools

import gradio as gr

from taskvec.app import tour as TOUR
from taskvec.app.common import HOST, MODEL, Page, guard


@guard
def run_tour(step, progress=gr.Progress()):
    return TOUR.tour_step(HOST.require(), step, progress)


def build(page: Page) -> None:
    with gr.Tab("Guided tour"):
        gr.Markdown("Four steps on the loaded model, country → capital. Click one.")
        with gr.Row():
            buttons = [gr.Button(s) for s in TOUR.STEPS]
        md, plot = gr.Markdown(), gr.Plot(show_label=False)
    for i, (b, s) in enumerate(zip(buttons, TOUR.STEPS), 1):
        b.click(functools.partial(run_tour, s), None, [md, plot], api_name=f"tour_{i}", **MODEL)
