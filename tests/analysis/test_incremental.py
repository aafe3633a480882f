"""Partial results while heavy views run (issue 12, item 7): the phase curves and the clusters have an
incremental path in their one analysis function; its last step equals the one-call result exactly, and the
partial steps are prefixes of it. UMAP no longer changes torch's thread count."""

import numpy as np
import pytest
import torch

from taskvec.analysis import clusters as CL
from taskvec.analysis import phases as PH
from taskvec.app.library import paper_tasks
from taskvec.testing import tiny_adapter


@pytest.fixture(scope="module")
def vlm():
    return tiny_adapter("idefics3")


@pytest.fixture(scope="module")
def tasks():
    return paper_tasks()


def _same_phases(a: PH.PhaseResult, b: PH.PhaseResult) -> None:
    assert torch.equal(a.curve.per_run, b.curve.per_run) and a.curve.tokens == b.curve.tokens
    assert a.topk.tokens == b.topk.tokens and a.topk.probs == b.topk.probs
    assert a.top1 == b.top1 and a.answers == b.answers and a.prompt == b.prompt and a.rows() == b.rows()


@pytest.mark.parametrize("modality,n_sets", [("text", 20), ("image", 10)])
def test_phase_steps_refine_and_end_with_the_one_call_result(vlm, tasks, modality, n_sets):
    seen = []
    steps = list(PH.phase_steps(vlm, tasks[0], modality, n_sets=n_sets, every=4,
                                progress=lambda i, n: seen.append((i, n))))
    done = [d for d, _, _ in steps]
    assert done == list(range(8, n_sets, 8)) + [n_sets]  # every=4 rounded up to a whole batch of 8
    assert all(K == n_sets for _, K, _ in steps) and seen[-1] == (n_sets, n_sets)
    whole = PH.phases(vlm, tasks[0], modality, n_sets=n_sets)
    _same_phases(steps[-1][2], whole)
    for d, _, part in steps[:-1]:  # a partial result is the result over the first d sets
        assert part.curve.per_run.shape[0] == d and len(part.answers) == d
        assert torch.equal(part.curve.per_run, whole.curve.per_run[:d])


def test_phase_step_size_follows_every_batch_size(vlm, monkeypatch):
    assert PH._step(vlm, 30, None) == 30 and PH._step(vlm, 30, 40) == 30
    assert PH._step(vlm, 30, 1) == 8 and PH._step(vlm, 30, 9) == 16
    monkeypatch.setattr(vlm, "image_batch_size", 3, raising=False)  # e.g. a family that batches images by 3
    assert PH._step(vlm, 60, 8) == 24  # a multiple of 8 and of 3: the one-call batches, in steps


def test_cluster_steps_refine_task_by_task_and_end_with_the_one_call_result(vlm, tasks):
    three, cache = tasks[:3], {}
    steps = list(CL.cluster_steps(vlm, three, 1, ("text", "image"), "tsne", n_sets=2, cache=cache, every=1))
    assert [(d, n) for d, n, _ in steps] == [(1, 3), (2, 3), (3, 3)]
    assert [len(r.tasks) for _, _, r in steps] == [4, 8, 12]
    assert [sorted(set(r.tasks)) for _, _, r in steps[:2]] == [[three[0].id], sorted(t.id for t in three[:2])]
    last = steps[-1][2]
    for whole in (CL.clusters(vlm, three, 1, ("text", "image"), "tsne", n_sets=2),  # no cache: extracted afresh
                  CL.clusters(vlm, three, 1, ("text", "image"), "tsne", n_sets=2, cache=cache)):
        assert np.array_equal(last.xy, whole.xy) and last.tasks == whole.tasks and last.modalities == whole.modalities
        assert last.hover == whole.hover and last.explained == whole.explained
        assert last.silhouette_task == whole.silhouette_task and last.silhouette_modality == whole.silhouette_modality
    # the one-call result is still the projection of ``points`` (today's definition)
    Xn, *_ = CL.points(vlm, three, 1, ("text", "image"), n_sets=2)
    assert np.array_equal(last.xy, CL.project(Xn, "tsne", 0))


def test_cluster_steps_skip_partials_when_nothing_new_and_below_three_points(vlm, tasks):
    calls = []

    def before(chunk):
        calls.append([t.id for t in chunk])
        return False  # e.g. every vector already cached: no partial projections

    steps = list(CL.cluster_steps(vlm, tasks[:4], 1, ("text",), "pca", n_sets=2, every=2, before=before))
    assert calls == [[t.id for t in tasks[:2]], [t.id for t in tasks[2:4]]]
    assert [(d, n) for d, n, _ in steps] == [(4, 4)]
    one = list(CL.cluster_steps(vlm, tasks[:3], 1, ("text",), "pca", n_sets=2, every=1))  # 2 points after one task
    assert [d for d, _, _ in one] == [2, 3]


def test_umap_leaves_torchs_thread_count_alone(vlm, tasks):
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        res = CL.clusters(vlm, tasks[:2], 1, ("text", "image"), "umap", n_sets=3)
        assert res.xy.shape == (12, 2)
        assert torch.get_num_threads() == 1  # umap/numba had raised it (to the core count)
    finally:
        torch.set_num_threads(old)


def test_thread_count_is_restored_when_the_projection_fails(vlm, tasks, monkeypatch):
    def bad_projection(X, method, seed):
        torch.set_num_threads(torch.get_num_threads() + 1)  # as numba does
        raise RuntimeError("projection failed")

    monkeypatch.setattr(CL, "project", bad_projection)
    old = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="projection failed"):
        CL.clusters(vlm, tasks[:2], 1, ("text",), "umap", n_sets=2)
    assert torch.get_num_threads() == old


def test_one_modality_clusters_say_na_and_paper_protocol_points_are_official_sets():
    """On a text-only model the modality silhouette has one group: 'n/a', never 'nan'. Under
    --protocol paper the cluster points are the official per-set vectors (one per validation item)."""
    from taskvec.analysis.clusters import clusters
    from taskvec.analysis.vectors import task_vector
    from taskvec.data.tasks import load_task
    from taskvec.testing import tiny_adapter

    adapter = tiny_adapter("llama")
    tasks = [load_task("country-capital"), load_task("food-color")]
    r = clusters(adapter, tasks, 2, ("text", "image"), "pca", n_sets=4)
    assert "by modality n/a (every point from one modality: text" in r.summary() and "nan" not in r.summary()
    assert r.short().endswith("modality n/a")
    cache: dict = {}
    p = clusters(adapter, tasks, 2, ("text",), "pca", cache=cache, protocol="paper")
    n_val = [len(t.split("val")) for t in tasks]
    assert len(p.tasks) == sum(n_val)
    official = task_vector(adapter, tasks[0], "text", cache=cache, protocol="paper")
    assert official.meta["protocol"] == "paper" and official.per_set.shape[0] == n_val[0]
