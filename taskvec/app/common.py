"""What every tab shares: the process's model host, the one model queue, the error guard, the
task library of a session, and ``wire`` — events connected to handlers by parameter name.

``wire(event, handler, components, outputs)`` takes the handler's inputs from ``components`` by
the names of its parameters (``progress`` excluded), so an input can never be passed to the
wrong parameter, and the API names of ``gradio_client`` are the handler's parameter names.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field

import gradio as gr

from taskvec.analysis.compare import suggested_layer
from taskvec.app import library as LIB
from taskvec.app.host import ModelHost
from taskvec.errors import TaskvecError

HOST = ModelHost()
MODEL = dict(concurrency_limit=1, concurrency_id="model")  # one model computation at a time, all sessions
KINDS = ["text examples", "image examples", "instruction"]
SPEC_OF = {"text examples": "text", "image examples": "image", "instruction": "instruction"}


def guard(fn):
    """Typed taskvec errors become a visible error box; anything else too, and the app stays up."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except TaskvecError as e:
            raise gr.Error(str(e), duration=None) from None
        except Exception as e:  # noqa: BLE001 - show it, keep serving
            raise gr.Error(f"Unexpected error ({type(e).__name__}): {e}", duration=None) from None
    return wrapper


def wire(event, handler, components: dict, outputs, **kwargs):
    """Connect ``event`` (e.g. ``button.click``) to ``handler``, its inputs picked by parameter name."""
    names = [p for p in inspect.signature(handler).parameters if p != "progress"]
    missing = [n for n in names if n not in components]
    if missing:
        raise KeyError(f"{handler.__name__}: no component for parameter(s) {missing}")
    return event(handler, [components[n] for n in names], outputs, **kwargs)


def spec_of(kind: str) -> str:
    if kind not in SPEC_OF:
        raise gr.Error(f"Unknown way of giving the task {kind!r}; pick one of {', '.join(SPEC_OF)}.")
    return SPEC_OF[kind]


def bar(progress, desc: str):
    """A ``(done, total)`` callback for the analysis functions, drawn as Gradio's progress bar."""
    return None if progress is None else (lambda i, n: progress((i, n), desc=desc))


def tasks_of(state, names=None):
    lib = LIB.paper_tasks() + list((state or {}).get("user_tasks", []))
    if names is None:
        return lib
    names = [names] if isinstance(names, str) else list(names)
    found = [t for t in lib if t.id in names]
    if not found:
        raise gr.Error("Pick at least one task from the library.")
    return found


def task_names(state) -> list[str]:
    return [t.id for t in tasks_of(state)]


def rows_table(rows):
    keys = list(dict.fromkeys(k for r in rows for k in r))
    return gr.Dataframe(value=[[r.get(k, "") for k in keys] for r in rows], headers=keys)


@dataclass
class Page:
    """What the tabs share while the page is built: the session state, the PNG switch, the task
    names, the layer range, and the components other tabs update (task pickers, layer sliders)."""

    state: object
    png: object
    names: list[str]
    n_layers: int
    best: int
    task_pickers: list = field(default_factory=list)  # dropdowns / checkbox groups of task ids
    layer_sliders: list = field(default_factory=list)

    @classmethod
    def for_host(cls, state, png) -> "Page":
        a = HOST.adapter
        return cls(state, png, [t.id for t in LIB.paper_tasks()], a.n_layers if a else 32,
                   suggested_layer(a) if a else 0)

    def layer_slider(self, label: str):
        s = gr.Slider(0, self.n_layers, value=self.best, step=1, label=label)
        self.layer_sliders.append(s)
        return s
