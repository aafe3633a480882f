"""taskvec in the browser: the page (``python app.py`` serves it).

The page is a header with the model picker and banner, then one tab per view; each tab is one
module of ``taskvec.app.tabs`` holding its layout and its handler, a few lines into
``taskvec.analysis`` drawn with ``taskvec.plot``. One model per process, shared read-only by all
sessions; per-session data in ``gr.State``; every model computation goes through one queue slot
(``concurrency_id="model"``).

A session's state records the model its page was set for (``state["model"]``). When another session (or the
operator) switches the model, this page's banner, model picker and layer sliders follow on its next request:
every model event is followed by ``follower``, which updates them when the model changed since (and on each
page load).
"""

from __future__ import annotations

import argparse
import html
import json
import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import gradio as gr  # noqa: E402

from taskvec.app import examples as EX  # noqa: E402
from taskvec.app.common import (HOST, MODEL, Page, collect_runs, configure, is_public, layer_sliders,  # noqa: E402
                                split_names, wire)
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
        return [banner, *layer_sliders(HOST.adapter, n_sliders)]
    return load_model


def follower(n_sliders: int, always: bool = False):
    """``(state) -> [state, banner, model picker, *layer sliders]``: when the loaded model is not the one this
    session's page was set for (``state["model"]``; another session switched it), the page follows it — the
    banner, the picker's choices and value, the sliders' range and value — and says so; otherwise nothing
    changes. ``always``: update regardless (a page load)."""
    def follow_model(state):
        a = HOST.adapter
        state = state if isinstance(state, dict) else {}
        seen = state.get("model")
        if a is None or (seen == a.model_id and not always):
            return [gr.skip()] * (3 + n_sliders)
        if seen is not None and seen != a.model_id and not always:
            gr.Info(f"The model was switched to {html.escape(a.model_id)} since this page was set up: the banner "
                    f"and the layer sliders now follow it (residual layers 0–{a.n_layers}).", duration=15)
        picker = gr.Dropdown(choices=model_choices(), value=a.model_id)
        return [{**state, "model": a.model_id}, HOST.banner(), picker, *layer_sliders(a, n_sliders)]
    return follow_model


def stamp(state):
    """After this session's own load: its page now belongs to the loaded model."""
    state = state if isinstance(state, dict) else {}
    return {**state, "model": HOST.adapter.model_id if HOST.adapter is not None else None}


def picker_label(public: bool) -> tuple[str, str | None]:
    """The model picker's label and info: a public app offers only the operator's allow-list."""
    if not public:
        return "Model (HF id, local folder, organism, tiny-random/<family>)", None
    return "Model (this public app offers only the models its operator allows)", \
        "Pick one from the list; run taskvec on your own machine to load any Hugging Face id or local folder."


PRESENT_CSS = """
.tv-present { --text-xxs: 14px; --text-xs: 16px; --text-sm: 18px; --text-md: 21px; --text-lg: 24px;
  --text-xl: 30px; --text-xxl: 36px; --block-label-text-size: 17px; --block-info-text-size: 16px;
  --input-text-size: 20px; --button-large-text-size: 22px; --section-header-text-size: 20px; }
.tv-present #page-intro, .tv-present #model-row, .tv-present .tab-intro small { display: none !important; }
.tv-present #page-title { display: none !important; }
.tv-present .tab-intro { font-size: 0.85em; }
.tv-present #summaries-table table { font-size: 17px; }
.tv-present #model-banner p:not(:first-child) { display: none; }
.tv-present #model-banner p:first-child { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.tv-present .gradio-container { max-width: 100% !important; overflow-x: hidden; }
#example-gallery .caption-label { white-space: normal !important; overflow: visible !important; }
.tab-intro p { margin: 0.2em 0; }
#model-banner p:nth-child(n+2) { font-size: var(--text-sm); }
#play-main { flex-direction: column; flex-wrap: nowrap; }
#play-main > .column { width: 100%; }
.tv-present #play-main { flex-direction: row; align-items: flex-start; }
.tv-present #play-inputs { flex: 0 0 41% !important; min-width: 0 !important; }
.tv-present #play-results { flex: 1 1 0% !important; min-width: 0 !important; }
.tv-present #play-fields, .tv-present #outputs { flex-wrap: nowrap; gap: 8px; }
.tv-present #play-fields > .column, .tv-present #outputs > .column { flex: 1 1 0% !important; min-width: 0 !important; }
.tv-present #run-patch { font-size: 19px !important; padding: 6px 8px; }
.tv-present #query-image label { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 72%; }
.tv-present #examples textarea { max-height: 7.6em; }
.tv-view { flex-direction: column; flex-wrap: nowrap; }
.tv-view > .column { width: 100%; }
.tv-present .tv-view { flex-direction: row; align-items: flex-start; gap: 10px; }
.tv-present .tv-inputs { flex: 0 0 30% !important; min-width: 0 !important; }
.tv-present .tv-results { flex: 1 1 0% !important; min-width: 0 !important; }
.tv-present .tv-inputs .row { flex-direction: column; flex-wrap: nowrap; gap: 4px; }
.tv-present .tv-inputs .row > * { min-width: 0 !important; width: 100%; }
.tv-present .tv-results .js-plotly-plot, .tv-present .tv-results .plot-container { max-height: 600px; }
"""

PRESENT_JS = r"""
() => {
  const style = document.createElement('style'); style.textContent = %s; document.head.appendChild(style);
  const on = new URLSearchParams(window.location.search).get('present');
  if (on === '1' || on === 'true') document.body.classList.add('tv-present');
  const F = 1.45;  // presentation mode: plot text this much larger
  const scale = () => {
    const on = document.body.classList.contains('tv-present');
    document.querySelectorAll('.js-plotly-plot').forEach((el) => {
      if (!window.Plotly || !el._fullLayout || !el.layout) return;
      const done = el._fullLayout.__tvScaled === true;
      if (on === done) return;
      if (!done) el.__tvBase = {font: (el.layout.font || {}).size || 15, title: ((el.layout.title || {}).font || {}).size || 20,
                                height: el.layout.height || el._fullLayout.height};
      const b = el.__tvBase || {font: 15, title: 20, height: el._fullLayout.height}, k = on ? F : 1;
      const upd = {'font.size': Math.round(b.font * k), 'title.font.size': Math.round(b.title * (on ? 1.2 : 1)),
                   'height': Math.round(b.height * (on ? 1.15 : 1))};
      Object.keys(el._fullLayout).filter((a) => /^[xy]axis\d*$/.test(a)).forEach((a) => { upd[a + '.automargin'] = true; });
      window.Plotly.relayout(el, upd).then(() => { el._fullLayout.__tvScaled = on; });
      el._fullLayout.__tvScaled = on;
    });
  };
  setInterval(scale, 600);
  document.addEventListener('keydown', (e) => {
    const t = e.target; if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable)) return;
    const tour = document.querySelector('#tab-tour'); if (!tour || tour.offsetParent === null) return;
    const b = document.querySelector(e.key === 'ArrowRight' ? '#tour-next' : e.key === 'ArrowLeft' ? '#tour-back' : 'none');
    if (b) { b.click(); e.preventDefault(); }
  });
  return document.body.classList.contains('tv-present');
}
""" % json.dumps(PRESENT_CSS)


def stale(results: list):
    """After a model load the results on the page belong to the previous model: cleared, with a note."""
    def clear(banner: str):
        if HOST.error:  # the previous model stays: so do its results
            return [gr.skip()] * len(results)
        note = f"*Model changed to `{HOST.adapter.model_id}`: earlier results were cleared — run the view again.*"
        return [note if isinstance(c, gr.Markdown) else None for c in results]
    return clear


def build() -> gr.Blocks:
    with gr.Blocks(title="taskvec: task vectors in vision-language models") as demo:
        state = gr.State({"user_tasks": [], "model": HOST.adapter.model_id if HOST.adapter else None})
        with gr.Row(equal_height=True):
            gr.Markdown("# taskvec — task vectors across text and images", elem_id="page-title")
            present = gr.Checkbox(False, label="Presentation mode (large type; also ?present=1)", scale=0,
                                  min_width=260, elem_id="present-toggle")
        gr.Markdown("Give a task by **text examples**, **image examples** or an **instruction**; see what the model "
                    "answers with no context, with the task in the prompt, and with the task's vector **patched** into "
                    "the query's forward pass.", elem_id="page-intro")
        with gr.Row(equal_height=True, elem_id="model-row"):
            label, info = picker_label(HOST.public)
            name = gr.Dropdown(model_choices(), value=HOST.adapter.model_id if HOST.adapter else default_model(),
                               allow_custom_value=True, label=label, info=info, scale=4,
                               elem_id="model-picker")
            load_btn = gr.Button("Load model", scale=1)
            png = gr.Checkbox(False, label="Also export PNG figures (slower)", scale=1, elem_id="png-box")
        banner = gr.Markdown(HOST.banner(), elem_id="model-banner")
        page = Page.for_host(state, png)
        page.results = []  # result components of the tabs, cleared when the model changes
        with gr.Tabs(overflow_behavior="wrap"), collect_runs() as runs:
            for tab in (playground, sweep, lens):
                tab.build(page)
            new_task = summaries.build(page)
            for tab in (clusters, similarity, tour):
                tab.build(page)
        summaries.wire_add_task(page, new_task)
        loaded = wire(load_btn.click, loader(len(page.layer_sliders)), {"name": name}, [banner, *page.layer_sliders],
                      api_name="load_model", **MODEL)
        loaded.then(stale(page.results), banner, page.results, api_visibility="private", queue=False)
        loaded.then(stamp, page.state, page.state, api_visibility="private", queue=False, show_progress="hidden")
        # another session's switch: this page follows on its next request (and on every page load)
        followers = [page.state, banner, name, *page.layer_sliders]
        for run in runs:
            run.then(follower(len(page.layer_sliders)), page.state, followers, api_visibility="private",
                     queue=False, show_progress="hidden")
        demo.load(follower(len(page.layer_sliders), always=True), page.state, followers, api_visibility="private",
                  queue=False, show_progress="hidden")
        present.change(None, present, None, js="(v) => { document.body.classList.toggle('tv-present', v); return v; }")
        demo.load(HOST.banner, None, banner, api_name="model_info")
        demo.load(None, None, present, js=PRESENT_JS)
    return demo


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="taskvec browser app")
    p.add_argument("--model", default=None, help="model to load at start (default: $TASKVEC_MODEL, organism, or SmolVLM-256M)")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                   help="interface to serve on (a Space sets GRADIO_SERVER_NAME=0.0.0.0)")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    p.add_argument("--share", action="store_true", help="create a public gradio.live link")
    p.add_argument("--public", action="store_true",
                   help="public mode (on by itself on a Hugging Face Space): visitors load only --models, use only "
                        "--source-models, upload at most 10 MB; bounded queue, sessions and disk")
    p.add_argument("--models", default=os.environ.get("TASKVEC_MODELS", ""),
                   help="public mode: comma-separated models a visitor may load (default $TASKVEC_MODELS; empty = "
                        "only the start model)")
    p.add_argument("--source-models", default=os.environ.get("TASKVEC_SOURCE_MODELS", ""),
                   help="public mode: comma-separated source / base models a visitor may use (default none)")
    p.add_argument("--time-limit", type=float, default=os.environ.get("TASKVEC_TIME_LIMIT") or None,
                   help="seconds of work one request may take before it is stopped between two steps with a "
                        "message (default $TASKVEC_TIME_LIMIT; else 120 in public mode, none locally; 0 = none)")
    args = p.parse_args(argv)
    public = is_public(args.public)
    settings = configure(public, split_names(args.models), split_names(args.source_models), args.time_limit)
    print(HOST.load(args.model or default_model(), operator=True).replace("**", ""), flush=True)
    if public:
        print(f"public mode: visitors may load {', '.join(HOST.allowed) or 'no other model'}", flush=True)
    if HOST.time_limit:
        print(f"time limit: {HOST.time_limit:g} s of work per request", flush=True)
    demo = build()
    demo.delete_cache = settings["delete_cache"]
    demo.queue(default_concurrency_limit=1, **settings["queue"])
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, allowed_paths=[str(EX.FLAGS)],
                **settings["launch"])


if __name__ == "__main__":
    main()
