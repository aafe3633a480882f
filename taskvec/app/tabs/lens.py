"""Logit lens tab: phase curves at the delimiter (paper Fig. 12), the lens heatmap, top-1 shares (Fig. 13)."""

from __future__ import annotations

import gradio as gr

from taskvec import plot as P
from taskvec.analysis import phases as PH
from taskvec.app import exports as XP
from taskvec.app import vocab as VO
from taskvec.app.session import MODEL_LOCK
from taskvec.app.view import caption, final, reveal
from taskvec.app.common import HOST, KINDS, MODEL, Page, bar, guard, spec_of, tasks_of, wire
from taskvec.app.common import capped


def lens_steps(state, task, kind, n_sets, n_examples, seed, task_word, k, png, input_word="", progress=gr.Progress()):
    """The lens view as it refines: the figures after about every ``STEP`` example sets ("k of K sets" in the
    titles, no exports yet), then the final result with its exports. One ``PH.phase_steps`` step at a time holds
    the model lock, so other model work can run between steps."""
    adapter = HOST.require()
    warn = VO.warning(adapter, task_word, (input_word or "").replace("{query}", ""))
    if warn:
        gr.Warning(warn, duration=15)
    steps = PH.phase_steps(adapter, tasks_of(state, task)[0], spec_of(kind), capped(n_sets, "lens_sets", "example sets"),
                           int(n_examples), int(seed), (input_word or "").strip() or ":", (task_word or "").strip() or None,
                           int(k), progress=bar(progress, "Forward passes"), every=STEP)
    while True:
        with MODEL_LOCK:  # held within one step only: a generator's steps may run on different threads
            step = next(steps, None)
        if step is None:
            return
        done, K, res = step
        more = "" if done == K else f" · {done} of {K} sets so far"
        ph = res.curve
        figs = (P.phase_figure(ph.mean.numpy(), ph.std.numpy(), ph.tokens, ph.labels,
                               f"{res.task} ({res.modality} examples): relative probability of input / task / answer" + more,
                               n_runs=ph.per_run.shape[0]),
                P.lens_heatmap(res.topk.tokens, res.topk.probs, "Lens at ':', first example set"),
                P.top1_roles_figure(res.top1, res.input_token, res.task_word, res.answers,
                                    "Top-1 lens token: its role per layer" + more))
        text = f"First example set's prompt (the heatmap's):\n\n```\n{res.prompt[-1500:]}\n```"
        if done < K:
            yield [*figs, f"*Refining: {done} of {K} example sets read so far…*\n\n" + text, None]
            continue
        meta = {"prompt": res.prompt, **caption(adapter, "logit lens", task=res.task, examples=res.modality,
                                                sets=res.curve.per_run.shape[0])}
        files = XP.export_all("lens", res.rows(), meta, dict(zip(("phases", "lens", "top1"), figs)), png=png)
        yield [*figs, text, files]


STEP = 8  # example sets between two partial figures (rounded up to whole forward batches)
stream_lens = guard(lens_steps)  # the button: figures refine as sets are read
run_lens = guard(final(lens_steps))  # the final result only (API-compatible callers, tests, benchmarks)


def build(page: Page) -> None:
    c: dict = {"state": page.state, "png": page.png}
    with gr.Tab("Logit lens and phases", elem_id="tab-lens"):
        gr.Markdown("**What am I looking at?** The residual at the last ':' read through the model's own unembedding "
                    "(logit lens) at every layer: the guess moves from the **input** to the **task** word to the "
                    "**answer** (paper Fig. 12-13).", elem_classes=["tab-intro"])
        with gr.Row(elem_id="lens-view", elem_classes=["tv-view"]):
            with gr.Column(elem_classes=["tv-inputs"]):
                with gr.Row():
                    c["task"] = gr.Dropdown(page.names, value=page.names[0], label="Task")
                    c["kind"] = gr.Radio(KINDS[:2], value="text examples", label="Examples as")
                    c["n_sets"] = gr.Slider(2, 100, value=20, step=1, label="K example sets (band = spread)")
                    c["n_examples"] = gr.Slider(1, 10, value=5, step=1, label="N examples per set")
                btn = gr.Button("Read the residual stream", variant="primary")
                with gr.Accordion("More settings: seed, task word, input token, top-k", open=False):
                    with gr.Row():
                        c["seed"] = gr.Number(0, label="seed", precision=0)
                        c["task_word"] = gr.Textbox(label="Task word (default: the task's, e.g. 'capital')")
                        c["input_word"] = gr.Textbox(label="Input token (default: the delimiter ':'; the paper used 'auf' "
                                                           "for Idefics2; {query} = each set's query word)")
                        c["k"] = gr.Slider(1, 10, value=5, step=1, label="top-k in the heatmap")
            with gr.Column(elem_classes=["tv-results"]):
                phase = gr.Plot(show_label=False, elem_id="lens-phase")
                with gr.Row():
                    heat, top1 = gr.Plot(show_label=False), gr.Plot(show_label=False)
                prompt = gr.Markdown()
                files = gr.File(label="Exports", file_count="multiple")
    page.task_pickers.append(c["task"])
    page.results += [phase, heat, top1, prompt, files]
    reveal(wire(btn.click, stream_lens, c, [phase, heat, top1, prompt, files], api_name="lens", **MODEL), "lens-phase", present="lens-view")
