"""taskvec in the browser: the page (``python app.py`` serves it).

The page is a header with the model picker and banner, then one tab per view; each tab is one
module of ``taskvec.app.tabs`` holding its layout and its handler, a few lines into
``taskvec.analysis`` drawn with ``taskvec.plot``. One model per process, shared read-only by all
sessions; per-session data in ``gr.State``; every model computation goes through one queue slot
(``concurrency_id="model"``).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import gradio as gr  # noqa: E402

from taskvec.analysis.compare import suggested_layer  # noqa: E402
from taskvec.app import examples as EX  # noqa: E402
from taskvec.app.common import HOST, MODEL, Page, wire  # noqa: E402
from taskvec.app.host import default_model, model_choices  # noqa: E402
from taskvec.app.tabs import clusters, lens, playground, similarity, summaries, sweep, tour  # noqa: E402

# the tabs' handlers, importable from here (tests and notebooks call them as Gradio would)
from taskvec.app.tabs.clusters import run_clusters  # noqa: E402,F401
from taskvec.app.tabs.lens import run_lens  # noqa: E402,F401
from taskvec.app.tabs.playground import run_patch  # noqa: E402,F401
from taskvec.app.tabs.similarity import run_similarity  # noqa: E402,F401
from taskvec.app.tabs.summaries import add_task, run_summaries  # noqa: E402,F401
from taskvec.app.tabs.sweep import run_sweep  # noqa: E402,F401
from taskvec.app.tabs.tour import run_tour  # noqa: E402,F401


def loader(n_sliders: int):
    """The load handler of a page with ``n_sliders`` layer sliders (they follow the new model's depth)."""
    def load_model(name, progress=gr.Progress()):
        """Load ``name`` for every session; a failed load keeps the previous model."""
        banner = HOST.load(name, progress)
        if HOST.error:
            gr.Warning("Model load failed; the previous model stays loaded.")
        a = HOST.adapter
        update = gr.Slider() if a is None else gr.Slider(minimum=0, maximum=a.n_layers, value=suggested_layer(a), step=1)
        return [banner, *[update] * n_sliders]
    return load_model


def build() -> gr.Blocks:
    with gr.Blocks(title="taskvec: task vectors in vision-language models") as demo:
        state = gr.State({"user_tasks": []})
        gr.Markdown("# taskvec — task vectors across text and images\nGive a task by **text examples**, **image "
                    "examples** or an **instruction**; see what the model answers with no context, with the task "
                    "in the prompt, and with the task's vector **patched** into the query's forward pass.")
        with gr.Row(equal_height=True):
            name = gr.Dropdown(model_choices(), value=HOST.adapter.model_id if HOST.adapter else default_model(),
                               allow_custom_value=True, label="Model (HF id, local folder, organism, tiny-random/<family>)",
                               scale=4)
            load_btn = gr.Button("Load model", scale=1)
            png = gr.Checkbox(False, label="Also export PNG figures (slower)", scale=1)
        banner = gr.Markdown(HOST.banner(), elem_id="model-banner")
        page = Page.for_host(state, png)
        for tab in (playground, sweep, lens):
            tab.build(page)
        new_task = summaries.build(page)
        for tab in (clusters, similarity, tour):
            tab.build(page)
        summaries.wire_add_task(page, new_task)
        wire(load_btn.click, loader(len(page.layer_sliders)), {"name": name}, [banner, *page.layer_sliders],
             api_name="load_model", **MODEL)
        demo.load(HOST.banner, None, banner, api_name="model_info")
    return demo


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="taskvec browser app")
    p.add_argument("--model", default=None, help="model to load at start (default: $TASKVEC_MODEL, organism, or SmolVLM-256M)")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                   help="interface to serve on (a Space sets GRADIO_SERVER_NAME=0.0.0.0)")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    p.add_argument("--share", action="store_true", help="create a public gradio.live link")
    args = p.parse_args(argv)
    print(HOST.load(args.model or default_model()).replace("**", ""), flush=True)
    demo = build()
    demo.queue(default_concurrency_limit=1)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, allowed_paths=[str(EX.FLAGS)], show_error=True)


if __name__ == "__main__":
    main()
