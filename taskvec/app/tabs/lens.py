"""Logit lens tab: phase curves at the delimiter (paper Fig. 12), the lens heatmap, top-1 shares (Fig. 13)."""

from __future__ import annotations

import gradio as gr

from taskvec import plot as P
from taskvec.analysis import phases as PH
from taskvec.app import exports as XP
from taskvec.app import vocab as VO
from taskvec.app.session import locked
from taskvec.app.view import caption, reveal
from taskvec.app.common import HOST, KINDS, MODEL, Page, bar, guard, spec_of, tasks_of, wire
from taskvec.app.common import capped


@guard
@locked  # one model computation at a time (see app/session.py)
def run_lens(state, task, kind, n_sets, n_examples, seed, task_word, k, png, input_word="", progress=gr.Progress()):
    warn = VO.warning(HOST.require(), task_word, (input_word or "").replace("{query}", ""))
    if warn:
        gr.Warning(warn, duration=15)
    res = PH.phases(HOST.require(), tasks_of(state, task)[0], spec_of(kind), capped(n_sets, "lens_sets", "example sets"), int(n_examples), int(seed),
                    (input_word or "").strip() or ":", (task_word or "").strip() or None, int(k),
                    progress=bar(progress, "Forward passes"))
    ph = res.curve
    figs = (P.phase_figure(ph.mean.numpy(), ph.std.numpy(), ph.tokens, ph.labels,
                           f"{res.task} ({res.modality} examples): relative probability of input / task / answer",
                           n_runs=ph.per_run.shape[0]),
            P.lens_heatmap(res.topk.tokens, res.topk.probs, "Lens at ':', first example set"),
            P.top1_roles_figure(res.top1, res.input_token, res.task_word, res.answers,
                                "Top-1 lens token: its role per layer"))
    meta = {"prompt": res.prompt, **caption(HOST.adapter, "logit lens", task=res.task, examples=res.modality,
                                            sets=res.curve.per_run.shape[0])}
    files = XP.export_all("lens", res.rows(), meta, dict(zip(("phases", "lens", "top1"), figs)), png=png)
    return [*figs, f"First example set's prompt (the heatmap's):\n\n```\n{res.prompt[-1500:]}\n```", files]


def build(page: Page) -> None:
    c: dict = {"state": page.state, "png": page.png}
    with gr.Tab("Logit lens and phases", elem_id="tab-lens"):
        gr.Markdown("**What am I looking at?** The residual at the last ':' read through the model's own unembedding "
                    "(logit lens) at every layer: the guess moves from the **input** to the **task** word to the "
                    "**answer** (paper Fig. 12-13).", elem_classes=["tab-intro"])
        with gr.Row():
            c["task"] = gr.Dropdown(page.names, value=page.names[0], label="Task")
            c["kind"] = gr.Radio(KINDS[:2], value="text examples", label="Examples as")
            c["n_sets"] = gr.Slider(2, 100, value=20, step=1, label="K example sets (band = spread)")
            c["n_examples"] = gr.Slider(1, 10, value=5, step=1, label="N examples per set")
        with gr.Row():
            c["seed"] = gr.Number(0, label="seed", precision=0)
            c["task_word"] = gr.Textbox(label="Task word (default: the task's, e.g. 'capital')")
            c["input_word"] = gr.Textbox(label="Input token (default: the delimiter ':'; the paper used 'auf' "
                                               "for Idefics2; {query} = each set's query word)")
            c["k"] = gr.Slider(1, 10, value=5, step=1, label="top-k in the heatmap")
        btn = gr.Button("Read the residual stream", variant="primary")
        phase = gr.Plot(show_label=False, elem_id="lens-phase")
        with gr.Row():
            heat, top1 = gr.Plot(show_label=False), gr.Plot(show_label=False)
        prompt = gr.Markdown()
        files = gr.File(label="Exports", file_count="multiple")
    page.task_pickers.append(c["task"])
    page.results += [phase, heat, top1, prompt, files]
    reveal(wire(btn.click, run_lens, c, [phase, heat, top1, prompt, files], api_name="lens", **MODEL), "lens-phase")
