"""Patch playground tab: one query answered with No Context | Prompt | Patch (| Ensemble patch)."""

from __future__ import annotations

import gradio as gr

from taskvec.app import examples as EX
from taskvec.app import exports as XP
from taskvec.app import inputs as IN
from taskvec.app import playground as PG
from taskvec.app.common import HOST, KINDS, MODEL, Page, guard, wire


@guard
def run_patch(state, kind, examples, image_files, image_answers, instruction, query_text, query_image, expected,
              layer, override, ensemble, w_text, w_image, w_instr, source, vector_file, n_sets, png,
              progress=gr.Progress()):
    req = PG.PlayRequest(kind, examples, image_files or [], image_answers, instruction, query_text, query_image,
                         int(layer), bool(override), bool(ensemble), (w_text, w_image, w_instr), int(n_sets),
                         expected=expected or "")
    adapter = HOST.require()
    cache = dict((state or {}).get("vector_cache", {}))
    res = PG.run_playground(adapter, req, HOST.source(source), IN.read_vector(vector_file), progress, cache)
    cols = res.columns + [None] * (4 - len(res.columns))
    figs = [PG.column_figure(c, res) for c in cols]
    files = XP.export_all("patch", res.rows(), res.as_dict(), {c.title: f for c, f in zip(res.columns, figs)},
                          res.vector, res.layer, png)
    return [{**(state or {}), "vector_cache": cache}, *[PG.column_markdown(c, res) for c in cols], *figs,
            gr.Column(visible=len(res.columns) > 3), PG.summary_markdown(res), files]


def build(page: Page) -> None:
    first = dict(zip(EX.FIELDS, EX.playground_examples()[0]))  # the page opens ready to Run
    c: dict = {"state": page.state, "png": page.png}
    with gr.Tab("Patch playground"):
        with gr.Row():
            with gr.Column(scale=2):
                c["kind"] = gr.Radio(KINDS, value="text examples", label="Task given as")
                c["examples"] = gr.Textbox(first["examples"], lines=6, label="Text examples — one 'input : answer' per line",
                                           placeholder="France : Paris\nItaly : Rome\nSpain : Madrid", elem_id="examples")
                with gr.Row():
                    c["image_files"] = gr.File(file_count="multiple", file_types=["image"], label="Example images")
                    c["image_answers"] = gr.Textbox(lines=4, label="Their answers, one per line, in upload order")
                    gallery = gr.Gallery(label="Image examples with their answers", columns=3, height=200,
                                         interactive=False)
                c["instruction"] = gr.Textbox(first["instruction"], label="Instruction",
                                              placeholder="The capital city of the country:")
            with gr.Column(scale=1):
                c["query_text"] = gr.Textbox(first["query_text"], label="Query (text)", placeholder="Germany",
                                             elem_id="query-text")
                c["query_image"] = gr.Image(type="filepath", label="…or query image (used when present)",
                                            sources=["upload", "clipboard"], height=180, elem_id="query-image")
                c["expected"] = gr.Textbox(first["expected"], label="Expected answer (optional: marks ✓/✗, green bar)",
                                           elem_id="expected")
                c["layer"] = page.layer_slider("Patch layer (residual layer, 0 = embeddings; starts at the suggested one)")
                run_btn = gr.Button("Run: No Context | Prompt | Patch", variant="primary", elem_id="run-patch")
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
        gr.Examples(EX.playground_examples(), [c[f] for f in EX.FIELDS], example_labels=EX.playground_labels(),
                    label="The paper's tasks: click one to fill the inputs, then Run")
        with gr.Row(elem_id="outputs"):
            outs_md, outs_fig, cols = [], [], []
            for i in range(4):
                with gr.Column(visible=i < 3, min_width=220) as col:
                    outs_md.append(gr.Markdown(elem_classes=["method-answer"]))
                    outs_fig.append(gr.Plot(show_label=False))
                cols.append(col)
        notes = gr.Markdown()
        files = gr.File(label="Exports: results (CSV, JSON), figures (HTML), task vector (.safetensors)",
                        file_count="multiple")
    wire(run_btn.click, run_patch, c, [page.state, *outs_md, *outs_fig, cols[3], notes, files], api_name="patch", **MODEL)
    preview = {"files": c["image_files"], "answers": c["image_answers"]}
    wire(c["image_files"].change, IN.gallery_items, preview, gallery, api_name="preview_image_examples",
         show_progress="hidden")
    wire(c["image_answers"].change, IN.gallery_items, preview, gallery, api_visibility="private", show_progress="hidden")
