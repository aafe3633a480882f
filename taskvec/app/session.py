"""Per-session caches kept in the session's ``gr.State`` dict (never shared between visitors).

Two queues share the one model: the quick views (playground, sweep, lens, tour) on ``MODEL`` and the heavy
ones on ``HEAVY``. Every model computation holds ``MODEL_LOCK`` (hooks sit on the shared model, so two
computations must never overlap); a heavy view takes it once per task vector (``prefill``), so a short job
waiting in the other queue runs between two extractions instead of after the whole view.

``session_results(state, kind)``: finished results of one view (the layer sweep), so asking again is instant.
``vector_cache(state)``: the dict ``taskvec.analysis.vectors.task_vector`` fills, keyed by model,
task, modality and sampling settings, so summaries, clusters (any projection) and similarity reuse
a session's vectors instead of extracting all of them again.
"""

from __future__ import annotations

import functools
import threading
import time

HEAVY = dict(concurrency_limit=1, concurrency_id="heavy")  # summaries, clusters, similarity: their own queue
MODEL_LOCK = threading.RLock()  # one model computation at a time, whichever queue it came from

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
        with MODEL_LOCK:
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
        with MODEL_LOCK:
            task_vector(adapter, t, m, n_examples, n_sets, seed, cache)
        time.sleep(0.002)  # hand the lock over: a thread waiting for it gets it before this loop takes it back
        if progress is not None:
            progress(i + 1, len(jobs))
