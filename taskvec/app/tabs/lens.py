"""Logit lens tab: phase curves at the delimiter (paper Fig. 12), the lens heatmap, top-1 shares (Fig. 13)."""

from __future__ import annotations

import gradio as gr

from taskvec import plot as P
from taskvec.analysis import phases as PH
from taskvec.app import exports as XP
from taskvec.app.common import HOST, KINDS, MODEL, Page, bar, guard, spec_of, tasks_of, wire


@guard
def run_lens(state, task, kind, n_sets, n_examples, seed, task_word, k, png, input_word="", progress=gr.Progress()):
    res = PH.phases(HOST.require(), tasks_of(state, task)[0], spec_of(kind), int(n_sets), int(n_examples), int(seed),
                    (input_word or "").strip() or ":", (task_word or "").strip() or None, int(k),
                    progress=bar(progress, "Forward passes"))
    ph = res.curve
    figs = (P.phase_figure(ph.mean.numpy(), ph.std.numpy(), ph.tokens, ph.labels,
                           f"{res.task} ({res.modality} examples): relative probability of input / task / answer",
                           n_runs=ph.per_run.shape[0]),
            P.lens_heatmap(res.topk.tokens, res.topk.probs, "Logit lens at the delimiter ':' (first example set)"),
            P.top1_figure(res.top1, "Top-1 lens token per layer (share of example sets)"))
    files = XP.export_all("lens", res.rows(), {"prompt": res.prompt}, dict(zip(("phases", "lens", "top1"), figs)), png=png)
    return [*figs, f"First example set's prompt (the heatmap's):\n\n```\n{res.prompt[-1500:]}\n```", files]


def build(page: Page) -> None:
    c: dict = {"state": page.state, "png": page.png}
    with gr.Tab("Logit lens and phases"):
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
        phase = gr.Plot(show_label=False)
        with gr.Row():
            heat, top1 = gr.Plot(show_label=False), gr.Plot(show_label=False)
        prompt = gr.Markdown()
        files = gr.File(label="Exports", file_count="multiple")
    page.task_pickers.append(c["task"])
    wire(btn.click, run_lens, c, [phase, heat, top1, prompt, files], api_name="lens", **MODEL)
