"""Small view helpers shared by the tabs (no model work)."""

from __future__ import annotations


def reveal(dependency, elem_id: str):
    """After ``dependency`` (a run event) finishes, scroll its results into view (they often land below the fold)."""
    js = ("() => { const e = document.getElementById(%r); if (e) e.scrollIntoView({behavior: 'smooth', block: 'start'}); }"
          % elem_id)
    return dependency.then(None, None, None, js=js, api_visibility="private", queue=False)


def caption(adapter, view: str, **inputs) -> dict:
    """Export metadata that says what a result is: the view, the model, its inputs (layer, task, ...) and the
    date, plus one ``caption`` line built from them (for the exported files to show beside the figures)."""
    import datetime as _dt

    when = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    shown = {k: v for k, v in inputs.items() if v not in (None, "", [], ())}
    text = f"taskvec {view} · model {adapter.model_id} · " + " · ".join(f"{k} {v}" for k, v in shown.items()) + f" · {when}"
    return {"view": view, "model": adapter.model_id, "inputs": shown, "date": when, "caption": text}
