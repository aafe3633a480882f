"""Task summaries tab: top-k lens decodings of each task vector (paper Tables 6/13); adding a session task."""

from __future__ import annotations

import functools

import gradio as gr

from taskvec import plot as P
from taskvec.analysis import summaries as SU
from taskvec.app import exports as XP
from taskvec.app import library as LIB
from taskvec.app.common import HOST, MODEL, Page, bar, guard, rows_table, task_names, tasks_of, wire


@guard
def run_summaries(state, names, layer, k, progress=gr.Progress()):
    res = SU.summaries(HOST.require(), tasks_of(state, names), int(layer), k=int(k), progress=bar(progress, "Tasks"))
    rows = [{"task": t, **{m: ", ".join(f"{P.show_token(tok)} ({p:.3f})" for tok, p in toks) for m, toks in row.items()}}
            for t, row in res.table().items()]
    return rows_table(rows), XP.export_all("summaries", res.rows(), {"layer": int(layer)}, {})


@guard
def add_task(state, name, examples, instruction, task_word):
    task = LIB.user_task(name, examples, instruction, task_word)
    kept = [t for t in (state or {}).get("user_tasks", []) if t.id != task.id]
    if len(kept) >= LIB.MAX_USER_TASKS:
        raise gr.Error(f"This session holds {LIB.MAX_USER_TASKS} tasks already; reload the page to start afresh.")
    state = {**(state or {}), "user_tasks": kept + [task]}
    gr.Info(f"Added task {task.id!r} ({len(task.items)} examples) to this session's library.")
    return state, task_names(state)


def build(page: Page) -> dict:
    """The tab; returns the 'add a task' button and inputs (wired once every task picker exists)."""
    c: dict = {"state": page.state}
    with gr.Tab("Task summaries"):
        with gr.Row():
            c["names"] = gr.CheckboxGroup(page.names, value=page.names, label="Tasks")
            c["layer"] = page.layer_slider("Layer (residual, 0 = embeddings)")
            c["k"] = gr.Slider(1, 10, value=5, step=1, label="top-k")
        btn = gr.Button("Decode the task vectors", variant="primary")
        table = gr.Dataframe(label="Top-k decodings: text examples | image examples | instruction", wrap=True)
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
    wire(btn.click, run_summaries, c, [table, files], api_name="summaries", **MODEL)
    return new


def wire_add_task(page: Page, new: dict) -> None:
    """Adding a task updates every task picker of the page (its choices, not its selection)."""
    @functools.wraps(add_task)  # the same parameter names: the API's and wire's
    def updated(state, name, examples, instruction, task_word):
        state, names = add_task(state, name, examples, instruction, task_word)
        return [state, *[type(p)(choices=names) for p in page.task_pickers]]

    wire(new["button"].click, updated, new, [page.state, *page.task_pickers], api_name="add_task")
