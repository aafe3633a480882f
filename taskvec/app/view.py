"""Small view helpers shared by the tabs (no model work)."""

from __future__ import annotations

import functools
import json
import numbers

def reveal(dependency, elem_id: str, present: str | None = None):
    """After ``dependency`` (a run event) finishes, scroll its results (``elem_id``) into view when they are not
    already on screen (they often land below the fold). In presentation mode the view's block ``present`` (its
    inputs and results side by side, one screen) is brought to the top instead, so both stay in sight."""
    js = ("() => { const id = document.body.classList.contains('tv-present') && %s ? %s : %s;"
          " const e = document.getElementById(id); if (!e) return; const r = e.getBoundingClientRect();"
          " if (r.top >= 0 && r.bottom <= window.innerHeight) return;"
          " e.scrollIntoView({behavior: id === %s ? 'smooth' : 'instant', block: 'start'}); }"
          % (json.dumps(bool(present)), json.dumps(present or elem_id), json.dumps(elem_id), json.dumps(elem_id)))
    return dependency.then(None, None, None, js=js, api_visibility="private", queue=False)


LAYER_CONVENTION = "l (taskvec: residual after l layers; paper's L = l-1)"


def layer_info(layer) -> str:
    """The slider's value in both numberings (``paper.layer_label``), shown under every layer slider."""
    from taskvec.analysis.paper import layer_label

    try:
        return layer_label(int(layer))  # e.g. "layer 12 (taskvec residual l) = official L=11"
    except (TypeError, ValueError):
        return "official L = l-1: the output of decoder layer L, counted from 0"


def layer_slider(page, what: str = "Layer"):
    """``page.layer_slider`` labelled with its convention (taskvec's l beside the paper's L = l-1); its info
    line follows the value in both numberings."""
    import gradio as gr

    s = page.layer_slider(f"{what} {LAYER_CONVENTION}")
    s.info = layer_info(s.value)
    s.change(lambda l: gr.Slider(info=layer_info(l)), s, s, queue=False, api_visibility="private",
             show_progress="hidden")
    return s


def final(fn):
    """A plain function returning the last output of the generator handler ``fn`` (the API, tests, benchmarks)."""
    @functools.wraps(fn)
    def last(*args, **kwargs):
        out = None
        for out in fn(*args, **kwargs):
            pass
        return out
    return last


def caption(adapter, view: str, **inputs) -> dict:
    """Export metadata that says what a result is: the view, the model, its inputs (layer, task, ...) and the
    date, plus one ``caption`` line built from them (the exported figures page prints it above the figures).

    A ``layer`` input (taskvec's residual layer l) is given in both numberings: ``layer_paper`` is the official
    code's L = l - 1 (the output of decoder layer L, counted from 0; None for l = 0, the embeddings)."""
    import datetime as _dt

    from taskvec.analysis.paper import layer_label, to_official

    when = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    shown = {k: v for k, v in inputs.items() if v not in (None, "", [], ())}
    if isinstance(shown.get("layer"), numbers.Integral) and not isinstance(shown["layer"], bool):
        shown["layer"] = int(shown["layer"])
        shown["layer_paper"] = to_official(shown["layer"])
    words = [layer_label(v) if k == "layer" and "layer_paper" in shown else f"{k} {v}"
             for k, v in shown.items() if k != "layer_paper"]
    text = f"taskvec {view} · model {adapter.model_id} · " + " · ".join(words) + f" · {when}"
    return {"view": view, "model": adapter.model_id, "inputs": shown, "date": when, "caption": text}
