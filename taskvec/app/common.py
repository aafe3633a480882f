"""What every tab shares: the process's model host, the one model queue, the error guard, the
task library of a session, and ``wire`` — events connected to handlers by parameter name.

``wire(event, handler, components, outputs)`` takes the handler's inputs from ``components`` by
the names of its parameters (``progress`` excluded), so an input can never be passed to the
wrong parameter, and the API names of ``gradio_client`` are the handler's parameter names.
Inside ``collect_runs()`` (the page's build), ``wire`` also records the model events (those of the model or heavy
queue), so the page can follow each of them with a check that the session's sliders belong to the loaded model.

``guard`` gives every request the operator's time budget (``HOST.time_limit``, public mode): the handler's
progress callback checks it at every step (``session.check_deadline``) and a request past it stops with a
clear message.
"""

from __future__ import annotations

import functools
import gc
import html
import inspect
import logging
import math
import re
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import gradio as gr

from taskvec.analysis.compare import suggested_layer
from taskvec.app import library as LIB
from taskvec.app.host import ModelHost
from taskvec.app.session import check_deadline, time_limit, within
from taskvec.errors import LayerError, SpecError, TaskvecError, TimeLimitError

HOST = ModelHost()
MODEL = dict(concurrency_limit=1, concurrency_id="model")  # one model computation at a time, all sessions
KINDS = ["text examples", "image examples", "instruction"]
SPEC_OF = {"text examples": "text", "image examples": "image", "instruction": "instruction"}


LOG = logging.getLogger("taskvec.app")
MAX_TEXT = 50_000  # characters of one text field (the UI's boxes; the API could send anything)
MAX_MESSAGE = 800  # characters of an error message shown in the app
ERROR_SECONDS = 25  # an error box dismisses itself after this long (or when closed)
LAYER_SLIDER = "taskvec-layer-slider"  # elem_classes tag of every layer slider (they follow the loaded model)
# heavy settings in public mode: the most a visitor's request computes (a local run takes the sliders' range)
PUBLIC_CAPS = {"n_sets": 10, "n_queries": 20, "lens_sets": 20, "cluster_sets": 10}
_PATH = re.compile(r"(?<![\w.:/])(?:/[\w.~+@-]+)+/([\w.~+@-]+)")


def _bounded(msg: str) -> str:
    msg = str(msg)
    if HOST.public:
        msg = _PATH.sub(r"\1", msg)  # no server paths for visitors: only the file's name
    if len(msg) > MAX_MESSAGE:
        msg = msg[:MAX_MESSAGE] + f" … ({len(msg) - MAX_MESSAGE} more characters)"
    return html.escape(msg, quote=False)  # the modal renders HTML: what a user typed stays text


def user_error(msg: str) -> gr.Error:
    """An error box for a mistake the user can fix: shown in full (bounded), no traceback in the log; it
    dismisses itself after ``ERROR_SECONDS``."""
    return gr.Error(_bounded(msg), duration=ERROR_SECONDS, print_exception=False)


class Budgeted:
    """A handler's progress callback (``gr.Progress`` or None) that first checks the request's deadline: the
    analysis functions report every step through it, so a request past its time limit stops between two
    steps (``TimeLimitError``) without any change to them."""

    def __init__(self, inner=None):
        self.inner = inner

    def __call__(self, progress=None, desc=None, *args, **kwargs):
        check_deadline(progress if isinstance(progress, tuple) else None, desc)
        if self.inner is not None:
            return self.inner(progress, desc, *args, **kwargs)
        return None

    def tqdm(self, iterable, *args, **kwargs):
        items = self.inner.tqdm(iterable, *args, **kwargs) if self.inner is not None else iterable
        for item in items:
            check_deadline()
            yield item

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _with_budget(fn, args, kwargs):
    """``args``/``kwargs`` of ``fn`` with its ``progress`` parameter (if any) wrapped in ``Budgeted``: the
    handler's own parameter (seen through ``functools.wraps``), passed only if the callable takes it."""
    try:
        sig = inspect.signature(fn)
        real = inspect.signature(fn, follow_wrapped=False).parameters
        if "progress" not in sig.parameters or not ("progress" in real or any(
                p.kind is inspect.Parameter.VAR_KEYWORD for p in real.values())):
            return args, kwargs
        bound = sig.bind_partial(*args, **kwargs)
    except (TypeError, ValueError):
        return args, kwargs
    given = bound.arguments.get("progress", sig.parameters["progress"].default)
    if given is inspect.Parameter.empty:
        given = None
    bound.arguments["progress"] = given if isinstance(given, Budgeted) else Budgeted(given)
    return bound.args, bound.kwargs


def check_arguments(fn, args, kwargs) -> None:
    """API-only junk refused at the boundary: over-long text, text that is not valid Unicode (a lone
    surrogate), and non-finite numbers, each named by the handler's parameter."""
    try:
        bound = inspect.signature(fn).bind_partial(*args, **kwargs).arguments
    except TypeError:
        return
    for name, value in bound.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if isinstance(v, str):
                if len(v) > MAX_TEXT:
                    raise SpecError(f"The field {name!r} has {len(v):,} characters; the app takes at most "
                                    f"{MAX_TEXT:,}. Shorten it.")
                try:
                    v.encode("utf-8")
                except UnicodeEncodeError as e:
                    raise SpecError(f"The field {name!r} holds an invalid character at position {e.start} (a lone "
                                    "UTF-16 surrogate); retype that part of the text.") from None
            elif isinstance(v, float) and not math.isfinite(v):
                raise SpecError(f"The field {name!r} must be a finite number; got {v}.")


def guard(fn):
    """Every error a user can cause becomes a short, specific error box (no traceback in the log); an
    unexpected error too, with its traceback logged for the operator; the app stays up.

    Also catches what derives from ``BaseException`` only, such as a Rust panic in a tokenizer
    (pyo3's ``PanicException``). In public mode a failed request drops the cached source model, and
    memory is collected after every request.

    With a time limit (``HOST.time_limit``), the request runs under its own deadline and its progress
    callback checks it at every step (``Budgeted``).

    A generator handler (a view that streams partial results) is guarded step by step: Gradio runs each
    ``next()`` on its own, in a fresh context, so every step gets the same error boxes and runs under the
    request's one deadline, set when the request starts."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def steps(*args, **kwargs):
            with _user_errors(fn):
                check_arguments(fn, args, kwargs)
                with time_limit(HOST.time_limit) as deadline:
                    if HOST.time_limit:
                        args, kwargs = _with_budget(fn, args, kwargs)
                    gen = fn(*args, **kwargs)
            while True:
                with _user_errors(fn), within(deadline):
                    try:
                        out = next(gen)
                    except StopIteration:
                        return
                yield out
        return steps

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with _user_errors(fn):
            check_arguments(fn, args, kwargs)
            with time_limit(HOST.time_limit):
                if HOST.time_limit:
                    args, kwargs = _with_budget(fn, args, kwargs)
                return fn(*args, **kwargs)
    return wrapper


@contextmanager
def _user_errors(fn):
    """``guard``'s conversion of whatever the block raises into an error box (see ``guard``)."""
    failed = True
    try:
        yield
        failed = False
    except gr.Error as e:  # raised on purpose by a handler: a user's mistake, no traceback
        e.message, e.print_exception = _bounded(e.message), False
        raise
    except TimeLimitError as e:  # the operator sees which view runs too long; no traceback
        LOG.warning("%s stopped by the time limit: %s", fn.__name__, e)
        raise user_error(str(e)) from None
    except TaskvecError as e:
        raise user_error(str(e)) from None
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except MemoryError:
        LOG.exception("out of memory in %s", fn.__name__)
        raise user_error("The server ran out of memory for this request; try fewer example sets, tasks or "
                         "queries, or smaller images.") from None
    except Exception as e:  # noqa: BLE001 - show it, log it, keep serving
        LOG.exception("unexpected error in %s", fn.__name__)
        detail = "" if HOST.public else f": {e}"
        raise user_error(f"Unexpected error ({type(e).__name__}){detail}. It was logged; if the inputs "
                         "look right, please report it.") from None
    except BaseException as e:  # noqa: BLE001 - e.g. a Rust panic in a tokenizer (PanicException)
        LOG.error("%s in %s", type(e).__name__, fn.__name__, exc_info=True)
        raise user_error(f"The model's tokenizer or a native library failed on this input "
                         f"({type(e).__name__}). Check it for unusual characters or extreme numbers; "
                         "nothing was changed.") from None
    finally:
        if HOST.public:
            if failed:
                HOST.drop_source()
            gc.collect()


def layer_of(layer, adapter) -> int:
    """A residual layer 0..L of ``adapter`` from a slider or the API: an integer in range, or a LayerError
    that says the model may have changed since the page loaded."""
    try:
        value = float(layer)
    except (TypeError, ValueError):
        raise LayerError(f"The layer must be a whole number; got {str(layer)[:40]!r}.") from None
    if not math.isfinite(value) or value != int(value):
        raise LayerError(f"The layer must be a whole number; got {value}.")
    n = adapter.n_layers
    if not 0 <= int(value) <= n:
        raise LayerError(f"Layer {int(value)} is out of range: the loaded model ({adapter.model_id}) has residual "
                         f"layers 0..{n}. The model was switched since this page's layer sliders were set; they "
                         f"follow it now: pick a layer in 0..{n} and run again.")
    return int(value)


def capped(value, key: str, what: str) -> int:
    """A count from a slider or the API as an int >= 1; in public mode at most ``PUBLIC_CAPS[key]`` (a
    warning says so)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SpecError(f"The number of {what} must be a whole number; got {str(value)[:40]!r}.") from None
    if not math.isfinite(v) or v < 1:
        raise SpecError(f"The number of {what} must be at least 1; got {v}.")
    v = int(v)
    limit = PUBLIC_CAPS[key]
    if HOST.public and v > limit:
        gr.Warning(f"This public app computes at most {limit} {what} per request; used {limit} instead of {v}.")
        return limit
    return v


_RUNS: ContextVar[list | None] = ContextVar("taskvec_model_events", default=None)


@contextmanager
def collect_runs():
    """While a page is built: a list that ``wire`` fills with the events of the model and heavy queues."""
    runs: list = []
    token = _RUNS.set(runs)
    try:
        yield runs
    finally:
        _RUNS.reset(token)


def layer_sliders(adapter, n: int) -> list:
    """Updates of ``n`` layer sliders to ``adapter``'s residual layers 0..L, each set to its suggested layer."""
    if adapter is None:
        return [gr.skip()] * n
    return [gr.Slider(minimum=0, maximum=adapter.n_layers, value=suggested_layer(adapter), step=1)] * n


def wire(event, handler, components: dict, outputs, **kwargs):
    """Connect ``event`` (e.g. ``button.click``) to ``handler``, its inputs picked by parameter name."""
    names = [p for p in inspect.signature(handler).parameters if p != "progress"]
    missing = [n for n in names if n not in components]
    if missing:
        raise KeyError(f"{handler.__name__}: no component for parameter(s) {missing}")
    dep = event(handler, [components[n] for n in names], outputs, **kwargs)
    runs = _RUNS.get()
    if runs is not None and kwargs.get("concurrency_id") in ("model", "heavy"):
        runs.append(dep)
    return dep


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
        s = gr.Slider(0, self.n_layers, value=self.best, step=1, label=label, elem_classes=[LAYER_SLIDER])
        self.layer_sliders.append(s)
        return s


def is_public(flag: bool | None = None) -> bool:
    """Public mode: ``--public``, or on a Hugging Face Space (``SPACE_ID`` set) unless ``TASKVEC_PUBLIC=0``."""
    import os

    env = os.environ.get("TASKVEC_PUBLIC", "").strip().lower()
    if flag or env in ("1", "true", "yes"):
        return True
    return bool(os.environ.get("SPACE_ID")) and env not in ("0", "false", "no")


def split_names(text: str | None) -> list[str]:
    """'a, b,c' -> ['a', 'b', 'c'] (the --models / --source-models lists)."""
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def configure(public: bool, models=(), sources=(), time_limit: float | None = None) -> dict:
    """Set the process's visitor policy and return the ``launch``/``queue`` settings for it.

    Public: visitors load only ``models`` / use only ``sources``; uploads up to 10 MB; at most 16 events
    waiting in the queue; each request stops after ``time_limit`` seconds of work (default
    ``host.PUBLIC_TIME_LIMIT``; 0 = none); Gradio's cache swept every 10 minutes of files older than an hour;
    exports kept an hour; raw exception texts (paths) never shown. Local: today's freedom (no time limit
    unless given), a day's retention."""
    from taskvec.app import exports as XP

    HOST.configure(public, models, sources, time_limit)
    XP.configure(public)
    if public:
        return {"queue": {"max_size": 16}, "launch": {"max_file_size": "10mb", "show_error": False},
                "delete_cache": (600, 3600)}
    return {"queue": {}, "launch": {"show_error": True}, "delete_cache": (3600, 24 * 3600)}
