"""Timings of every app view on the default model: ``python -m taskvec.app.bench_views``.

Each tab's handler is called as Gradio calls it, twice: in a fresh session (no cached vectors: what every
run cost before the session cache) and again in the same session (what a repeat or a projection change costs
now). The tour: computed live vs read from ``assets/app_picks.json``. One torch thread.
"""

from __future__ import annotations

import argparse
import time


def _t(fn, *a):
    import torch

    torch.set_num_threads(1)  # UMAP's numba (OpenMP layer) resets the OpenMP thread count torch uses
    t = time.perf_counter()
    fn(*a)
    return time.perf_counter() - t


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="organism")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from taskvec.app import examples as EX
    from taskvec.app import tour as TOUR
    from taskvec.app import ui
    from taskvec.app.library import paper_tasks

    ui.HOST.load(args.model)
    names = [t.id for t in paper_tasks()]
    kinds2 = ["text examples", "image examples"]
    first = dict(zip(EX.FIELDS, EX.playground_examples()[0]))
    patch = lambda s: ui.run_patch(s, *[first[f] for f in EX.FIELDS], 1, False, False, 1, 1, 1, "", None, 10, False,
                                   progress=None)
    views = {
        "playground (first example)": patch,
        "layer sweep (default: 100 image queries)": lambda s: ui.run_sweep(s, "animal-young", "text examples", "image",
                                                                           100, "", None, "", False, progress=None),
        "logit lens (20 sets)": lambda s: ui.run_lens(s, "country-capital", "text examples", 20, 5, 0, "", 5, False,
                                                     progress=None),
        "task summaries (6 tasks x 3)": lambda s: ui.run_summaries(s, names, 1, 5, progress=None),
        "clusters t-SNE (6 tasks x 3)": lambda s: ui.run_clusters(s, names, ui.clusters.KINDS, 1, "tsne",
                                                                   "task vectors", 10, False, progress=None),
        "clusters UMAP after t-SNE": lambda s: ui.run_clusters(s, names, ui.clusters.KINDS, 1, "umap", "task vectors",
                                                                10, False, progress=None),
        "clusters PCA, text + image": lambda s: ui.run_clusters(s, names, kinds2, 1, "pca", "task vectors", 10, False,
                                                                 progress=None),
        "similarity (3 tasks x 3)": lambda s: ui.run_similarity(s, names[:3], ui.clusters.KINDS, 1, "", False, False,
                                                                progress=None),
    }
    print("| view | fresh session (s) | same session again (s) |\n|---|---|---|")
    state = {"user_tasks": []}
    for name, fn in views.items():
        fresh = _t(fn, {"user_tasks": []})
        _t(fn, state)  # fill this session's caches
        again = _t(fn, state)
        print(f"| {name} | {fresh:.1f} | {again:.2f} |", flush=True)
    a = ui.HOST.adapter
    live = _t(lambda: TOUR.tour_view(a, TOUR.tour_data(a, precomputed=False), 0))
    pre = _t(lambda: TOUR.tour_view(a, TOUR.tour_data(a), 0))
    print(f"| tour step 1 | {live:.1f} (live, 20 queries x 2 tasks) | {pre:.2f} (precomputed file) |")


if __name__ == "__main__":
    main()
