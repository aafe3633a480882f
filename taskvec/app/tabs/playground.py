"""Patch playground tab: one query answered with No Context | Prompt | Patch (| Ensemble patch).

Only the inputs of the chosen way of giving the task are shown; a built-in example sets every field
(empty where it does not use one). The first built-in example — picked by measurement, see
``taskvec.app.picks`` — is on the page when it opens.
"""

from __future__ import annotations

import gradio as gr

from taskvec.app import examples as EX
from taskvec.app import exports as XP
from taskvec.app import inputs as IN
from taskvec.app import playground as PG
from taskvec.app import vocab as VO
from taskvec.app.session import locked
from taskvec.app.view import caption, layer_slider, reveal
from taskvec.app.common import HOST, KINDS, MODEL, Page, guard, wire
from taskvec.app.common import capped, layer_of

INTRO = ("**What am I looking at?** One query answered three ways: the query alone (*No Context*), the task's examples "
         "in the same prompt (*Prompt*), and the examples turned into a task vector patched into the query's forward "
         "pass (*Patch*) — the paper's Table 1 for one query. ✓/✗ use the paper's metric (greedy first token).")


@guard
@locked  # one model computation at a time (see app/session.py)
def run_patch(state, kind, examples, image_files, image_answers, instruction, query_text, query_image, expected,
              layer, override, ensemble, w_text, w_image, w_instr, source, vector_file, n_sets, png,
              progress=gr.Progress()):
    req = PG.PlayRequest(kind, examples, image_files or [], image_answers, instruction, query_text, query_image,
                         layer_of(layer, HOST.require()), bool(override), bool(ensemble), (w_text, w_image, w_instr), capped(n_sets, "n_sets", "example sets"),
                         expected=expected or "")
    adapter = HOST.require()
    used = {"text examples": (examples,), "image examples": (image_answers,), "instruction": (instruction,)}.get(kind, ())
    warn = VO.warning(adapter, *used, "" if query_image else query_text, expected)
    if warn:
        gr.Warning(warn, duration=15)
    cache = dict((state or {}).get("vector_cache", {}))
    res = PG.run_playground(adapter, req, HOST.source(source, adapter), IN.read_vector(vector_file), progress, cache)
    cols = res.columns + [None] * (4 - len(res.columns))
    figs = [PG.column_figure(c, res) for c in cols]
    meta = {**res.as_dict(), **caption(adapter, "patch playground", layer=res.layer, query=res.query,
                                       task=res.spec[:200])}
    files = XP.export_all("patch", res.rows(), meta, {c.title: f for c, f in zip(res.columns, figs)},
                          res.vector, res.layer, png)
    notes = "\n\n".join(x for x in (warn, PG.summary_markdown(res)) if x)
    return [{**(state or {}), "vector_cache": cache}, *[PG.column_markdown(c, res) for c in cols], *figs,
            gr.Column(visible=len(res.columns) > 3), notes, files]


def show_inputs(kind):
    """Only the chosen specification's inputs are visible."""
    return (gr.Textbox(visible=kind == "text examples"), gr.Group(visible=kind == "image examples"),
            gr.Textbox(visible=kind == "instruction"))


def build(page: Page) -> None:
    rows = EX.playground_examples()
    first = dict(zip(EX.FIELDS, rows[0]))  # the page opens on the first example, ready to Run
    c: dict = {"state": page.state, "png": page.png}
    with gr.Tab("Patch playground", elem_id="tab-playground"):
        gr.Markdown(INTRO, elem_classes=["tab-intro"])
        # inputs above results; in presentation mode side by side, so both fit one 1280x720 screen (CSS in ui.py)
        with gr.Row(elem_id="play-main"):
            with gr.Column(scale=3, elem_id="play-inputs"):
                with gr.Row(elem_id="play-fields"):
                    with gr.Column(scale=2):
                        c["kind"] = gr.Radio(KINDS, value=first["kind"], label="Task given as", elem_id="kind")
                        c["examples"] = gr.Textbox(first["examples"], lines=5,
                                                   label="Text examples — one 'input : answer' per line",
                                                   placeholder="France : Paris\nItaly : Rome\nSpain : Madrid",
                                                   elem_id="examples", visible=first["kind"] == "text examples")
                        with gr.Group(visible=first["kind"] == "image examples") as image_group:
                            with gr.Row():
                                c["image_files"] = gr.File(first["image_files"], file_count="multiple",
                                                           file_types=["image"], label="Example images")
                                c["image_answers"] = gr.Textbox(first["image_answers"], lines=4,
                                                                label="Their answers, one per line, in upload order")
                            gallery = gr.Gallery(label="Image examples with their answers", columns=5, height=230,
                                                 object_fit="contain", interactive=False, elem_id="example-gallery")
                        c["instruction"] = gr.Textbox(first["instruction"], label="Instruction",
                                                      placeholder="The capital city of the country:",
                                                      elem_id="instruction", visible=first["kind"] == "instruction")
                        c["layer"] = layer_slider(page, "Patch layer")
                    with gr.Column(scale=1):
                        c["query_text"] = gr.Textbox(first["query_text"], label="Query (text)", placeholder="Germany",
                                                     elem_id="query-text")
                        c["query_image"] = IN.image_upload(first["query_image"],
                                                          label="…or query image (used when present)",
                                                          sources=["upload", "clipboard"], height=170,
                                                          elem_id="query-image")
                        c["expected"] = gr.Textbox(first["expected"],
                                                   label="Expected answer (optional: marks ✓/✗, green bar)",
                                                   elem_id="expected")
                        run_btn = gr.Button("Run: No Context | Prompt | Patch", variant="primary", elem_id="run-patch")
                gr.Examples(rows, [c[f] for f in EX.FIELDS], example_labels=EX.playground_labels(),
                            label="Built-in examples — click one, then Run. Picked by measuring this app's default "
                                  "model: ★ Patch right where No Context and Prompt are wrong; then one where all three "
                                  "are right, one where the patch fails",
                            elem_id="builtin-examples")
            with gr.Column(scale=2, elem_id="play-results"):
                with gr.Row(elem_id="outputs"):
                    outs_md, outs_fig, cols = [], [], []
                    for i in range(4):
                        with gr.Column(visible=i < 3, min_width=220) as col:
                            outs_md.append(gr.Markdown(elem_classes=["method-answer"]))
                            outs_fig.append(gr.Plot(show_label=False))
                        cols.append(col)
                notes = gr.Markdown(elem_id="patch-notes")
        with gr.Accordion("More: task overriding, ensemble, source model, saved vector", open=False):
            with gr.Row():
                c["override"] = gr.Checkbox(label="Task overriding: instruction in the prompt, the examples' vector patched")
                c["ensemble"] = gr.Checkbox(label="Add an Ensemble patch column")
                for key, k in zip(("w_text", "w_image", "w_instr"), KINDS):
                    c[key] = gr.Number(1.0, label=f"ensemble weight: {k}", minimum=0)
            with gr.Row():
                c["source"] = gr.Textbox(label="Source model for the vector (e.g. the base LLM); empty = this model")
                c["vector_file"] = gr.File(label="Patch a saved task vector (.safetensors)", file_types=[".safetensors"])
                c["n_sets"] = gr.Slider(1, 30, value=10, step=1, label="example sets averaged into the vector")
        files = gr.File(label="Exports: results (CSV, JSON), figures (HTML), task vector (.safetensors)",
                        file_count="multiple")
    outputs = [page.state, *outs_md, *outs_fig, cols[3], notes, files]
    reveal(wire(run_btn.click, run_patch, c, outputs, api_name="patch", **MODEL), "outputs", present="play-main")
    c["kind"].change(show_inputs, c["kind"], [c["examples"], image_group, c["instruction"]], queue=False,
                     api_visibility="private", show_progress="hidden")
    preview = {"files": c["image_files"], "answers": c["image_answers"]}
    wire(c["image_files"].change, IN.gallery_items, preview, gallery, api_name="preview_image_examples",
         show_progress="hidden")
    wire(c["image_answers"].change, IN.gallery_items, preview, gallery, api_visibility="private", show_progress="hidden")
    # inputs changed after a run: the shown answers no longer belong to them
    for f in ("kind", "examples", "image_answers", "instruction", "query_text", "query_image", "expected"):
        c[f].change(lambda: "⚠️ *The inputs changed since these results: press Run to update them.*", None, notes,
                    queue=False, api_visibility="private", show_progress="hidden")
    page.results += [*outs_md, *outs_fig, notes, files]
