"""Task summaries tab: top-k lens decodings of each task vector (paper Tables 6/13); adding a session task."""

from __future__ import annotations

import functools

import gradio as gr

from taskvec import plot as P
from taskvec.analysis import summaries as SU
from taskvec.app import exports as XP
from taskvec.app.session import HEAVY, prefill, vector_cache
from taskvec.app import library as LIB
from taskvec.app import vocab as VO
from taskvec.app.view import caption, layer_slider, reveal
from taskvec.app.common import HOST, MODEL, Page, bar, guard, rows_table, task_names, tasks_of, wire
from taskvec.app.common import layer_of


@guard
def run_summaries(state, names, layer, k, progress=gr.Progress()):
    adapter, tasks = HOST.require(), tasks_of(state, names)
    cache = vector_cache(state)
    cache = {} if cache is None else cache
    prefill(adapter, tasks, SU.MODALITIES, cache, progress=bar(progress, "Task vectors"))  # one vector per lock
    res = SU.summaries(adapter, tasks, layer_of(layer, adapter), k=int(k), cache=cache)  # lens only: no hooks
    rows = [{"task": t, **{m: ", ".join(f"{P.show_token(tok)} {p:.1%}" for tok, p in toks) for m, toks in row.items()}}
            for t, row in res.table().items()]
    meta = {"layer": int(layer), **caption(adapter, "task summaries", layer=res.layer, k=int(k),
                                           tasks=", ".join(t.id for t in tasks))}
    return rows_table(rows), XP.export_all("summaries", res.rows(), meta, {})


@guard
def add_task(state, name, examples, instruction, task_word):
    task = LIB.user_task(name, examples, instruction, task_word)
    if HOST.adapter is not None and (warn := VO.warning(HOST.adapter, examples, instruction, task_word)):
        gr.Warning(warn, duration=20)
    kept = [t for t in (state or {}).get("user_tasks", []) if t.id != task.id]
    if len(kept) >= LIB.MAX_USER_TASKS:
        raise gr.Error(f"This session holds {LIB.MAX_USER_TASKS} tasks already; reload the page to start afresh.")
    state = {**(state or {}), "user_tasks": kept + [task]}
    gr.Info(f"Added task {task.id!r} ({len(task.items)} examples) to this session's library.")
    return state, task_names(state)


def build(page: Page) -> dict:
    """The tab; returns the 'add a task' button and inputs (wired once every task picker exists)."""
    c: dict = {"state": page.state}
    with gr.Tab("Task summaries", elem_id="tab-summaries"):
        gr.Markdown("**What am I looking at?** Each task vector read through the logit lens: its top-k tokens say "
                    "what the vector 'means' (paper Tables 6 and 13). Text, image and instruction vectors of one task "
                    "decode to similar words. Each cell: the top-k tokens with their lens probability.",
                    elem_classes=["tab-intro"])
        with gr.Row(elem_id="summaries-view", elem_classes=["tv-view"]):
            with gr.Column(elem_classes=["tv-inputs"]):
                with gr.Row():
                    c["names"] = gr.CheckboxGroup(page.names, value=page.names, label="Tasks")
                    c["layer"] = layer_slider(page)
                    c["k"] = gr.Slider(1, 10, value=5, step=1, label="top-k")
                btn = gr.Button("Decode the task vectors", variant="primary")
            with gr.Column(elem_classes=["tv-results"]):
                table = gr.Dataframe(label="Top-k decodings: text examples | image examples | instruction", wrap=True, elem_id="summaries-table",
                                     column_widths=["16%", "28%", "28%", "28%"])
                files = gr.File(label="Exports", file_count="multiple")
        with gr.Accordion("Add a task to this session's library", open=False):
            new = {"state": page.state}
            with gr.Row():
                new["name"] = gr.Textbox(label="Name", placeholder="antonyms")
                new["instruction"] = gr.Textbox(label="Instruction (optional)")
                new["task_word"] = gr.Textbox(label="Task word (optional)")
            new["examples"] = gr.Textbox(lines=5, label="Examples, one 'input : answer' per line")
            new["button"] = gr.Button("Add task")
    page.task_pickers.append(c["names"])
    page.results += [table, files]
    reveal(wire(btn.click, run_summaries, c, [table, files], api_name="summaries", **HEAVY), "summaries-table", present="summaries-view")
    return new


def wire_add_task(page: Page, new: dict) -> None:
    """Adding a task updates every task picker of the page (its choices, not its selection)."""
    @functools.wraps(add_task)  # the same parameter names: the API's and wire's
    def updated(state, name, examples, instruction, task_word):
        state, names = add_task(state, name, examples, instruction, task_word)
        return [state, *[type(p)(choices=names) for p in page.task_pickers]]

    wire(new["button"].click, updated, new, [page.state, *page.task_pickers], api_name="add_task")
