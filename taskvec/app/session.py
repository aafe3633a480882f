"""Per-session caches kept in the session's ``gr.State`` dict (never shared between visitors).

Two queues share the one model: the quick views (playground, sweep, lens, tour) on ``MODEL`` and the heavy
ones on ``HEAVY``. Every model computation holds ``MODEL_LOCK`` (hooks sit on the shared model, so two
computations must never overlap); a heavy view takes it once per task vector (``prefill``), so a short job
waiting in the other queue runs between two extractions instead of after the whole view.

``session_results(state, kind)``: finished results of one view (the layer sweep), so asking again is instant.
``vector_cache(state)``: the dict ``taskvec.analysis.vectors.task_vector`` fills, keyed by model,
task, modality and sampling settings, so summaries, clusters (any projection) and similarity reuse
a session's vectors instead of extracting all of them again.

``time_limit(seconds)``: a cooperative per-request deadline (public mode). Gradio cannot stop a CPU-bound
handler, so the request's loops call ``check_deadline()`` between steps (``prefill`` does, and so does every
progress callback the app hands to an analysis function, see ``common.guard``); past the limit it raises
``TimeLimitError``. Hooks are scoped context managers, so stopping between steps leaves nothing patched.
The deadline lives in a ``ContextVar``: each request (Gradio runs each in its own context) has its own,
and time spent waiting for the model lock is not counted against it.
"""

from __future__ import annotations

import contextvars
import functools
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from taskvec.errors import TimeLimitError

HEAVY = dict(concurrency_limit=1, concurrency_id="heavy")  # summaries, clusters, similarity: their own queue
MODEL_LOCK = threading.RLock()  # one model computation at a time, whichever queue it came from



@dataclass
class Deadline:
    """One request's time budget: ``limit`` seconds of work from ``start`` (waits for the model lock excluded)."""

    limit: float
    start: float = field(default_factory=lambda: time.monotonic())  # read at creation, through the module
    waited: float = 0.0  # seconds spent waiting for MODEL_LOCK (another request's turn): not this request's work

    def spent(self) -> float:
        return time.monotonic() - self.start - self.waited


_DEADLINE: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("taskvec_deadline", default=None)


@contextmanager
def time_limit(seconds: float | None):
    """Within this block, ``check_deadline()`` raises once ``seconds`` of work are spent (None or 0: no limit).
    Nested blocks keep the outer (earlier) deadline."""
    if not seconds or _DEADLINE.get() is not None:
        yield _DEADLINE.get()
        return
    token = _DEADLINE.set(Deadline(float(seconds)))
    try:
        yield _DEADLINE.get()
    finally:
        _DEADLINE.reset(token)


@contextmanager
def within(deadline: Deadline | None):
    """Run a block under ``deadline`` (a request's, kept from its start): the steps of a generator handler run
    one ``next()`` at a time, each in a fresh context, yet share the request's one budget."""
    token = _DEADLINE.set(deadline)
    try:
        yield deadline
    finally:
        _DEADLINE.reset(token)


def check_deadline(step: tuple | None = None, desc: str | None = None) -> None:
    """Raise ``TimeLimitError`` if this request's time budget is spent (a no-op without ``time_limit``).
    ``step`` = (done, total) and ``desc`` say in the message how far it got."""
    d = _DEADLINE.get()
    if d is None or d.spent() <= d.limit:
        return
    where = ""
    if isinstance(step, tuple) and len(step) == 2 and step[1]:
        where = (f" before its first step" if not step[0] else f" after step {step[0]} of {step[1]}") + \
            (f" ({desc.lower()})" if desc else "")
    raise TimeLimitError(f"This request ran past this app's limit of {d.limit:g} s per request and was "
                         f"stopped{where}; nothing was changed. Ask for less work: fewer example sets (K), "
                         "examples (N), queries or tasks.")


@contextmanager
def model_lock():
    """Hold ``MODEL_LOCK``; the wait for it is not counted against this request's deadline."""
    t = time.monotonic()
    with MODEL_LOCK:
        d = _DEADLINE.get()
        if d is not None:
            d.waited += time.monotonic() - t
        yield


MAX_VECTORS = 240  # about 6 tasks x 3 modalities x a dozen settings; a full cache starts afresh


def vector_cache(state) -> dict | None:
    if not isinstance(state, dict):
        return None
    cache = state.setdefault("task_vectors", {})
    if len(cache) > MAX_VECTORS:
        cache.clear()
    return cache


MAX_RESULTS = 24  # per kind of result


def session_results(state, kind: str) -> dict | None:
    """A session's dict of finished results of one view (e.g. ``"sweeps"``), keyed by everything they depend on."""
    if not isinstance(state, dict):
        return None
    cache = state.setdefault(kind, {})
    if len(cache) > MAX_RESULTS:
        cache.clear()
    return cache


def locked(fn):
    """Run ``fn`` holding the model lock (a quick view: its whole run is one step)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with model_lock():
            return fn(*args, **kwargs)
    return wrapper


def prefill(adapter, tasks, modalities, cache: dict | None, n_sets: int = 10, n_examples: int = 5, seed: int = 0,
            progress=None) -> None:
    """Extract the task vectors a heavy view will ask for into ``cache``, one at a time, each under the model
    lock (the same keys as ``analysis.vectors.task_vector``: the view then finds them all)."""
    if cache is None:
        return
    from taskvec.analysis.vectors import available, task_vector

    jobs = [(t, m) for t in tasks for m in modalities if available(adapter, t, m)]
    for i, (t, m) in enumerate(jobs):
        check_deadline((i, len(jobs)), "task vectors")
        with model_lock():
            task_vector(adapter, t, m, n_examples, n_sets, seed, cache)
        time.sleep(0.002)  # hand the lock over: a thread waiting for it gets it before this loop takes it back
        if progress is not None:
            progress(i + 1, len(jobs))
