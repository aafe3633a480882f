"""Fast views (issue 12, item 7): a heavy view no longer holds a quick one for its whole duration. The heavy
views (summaries, clusters, similarity) run on their own queue and take the model lock once per task vector;
a playground run started meanwhile finishes first. And a session's second projection reuses its vectors."""

import threading

import pytest

ui = pytest.importorskip("taskvec.app.ui")
from taskvec.app import examples as EX  # noqa: E402
from taskvec.app import session  # noqa: E402
from taskvec.app.library import paper_tasks  # noqa: E402

from taskvec.data.resources import organism_dir  # noqa: E402

pytestmark = pytest.mark.skipif(not (organism_dir() / "config.json").is_file(), reason="organism weights missing")


@pytest.fixture(scope="module", autouse=True)
def organism():
    from taskvec.models import load_model

    old = ui.HOST.adapter
    ui.HOST.adapter = load_model("organism")
    yield ui.HOST.adapter
    ui.HOST.adapter = old


def _patch(state):
    first = dict(zip(EX.FIELDS, EX.playground_examples()[0]))
    return ui.run_patch(state, *[first[f] for f in EX.FIELDS], 1, False, False, 1, 1, 1, "", None, 10, False,
                        progress=None)


def test_a_quick_run_overtakes_a_heavy_view():
    names = [t.id for t in paper_tasks()]
    done, started = [], threading.Event()
    real = session.prefill

    def slow_prefill(*a, progress=None, **k):  # signal once the heavy view has its first vector
        def tick(i, n):
            started.set()
        return real(*a, progress=tick, **k)

    import taskvec.app.tabs.clusters as CT

    CT.prefill = slow_prefill
    try:
        heavy = threading.Thread(target=lambda: (ui.run_clusters({}, names, ui.clusters.KINDS, 1, "pca", "task vectors",
                                                                 10, False, progress=None), done.append("heavy")))
        heavy.start()
        assert started.wait(120)
        _patch({})
        done.append("quick")
        heavy.join(300)
    finally:
        CT.prefill = real
    assert done == ["quick", "heavy"]


def test_second_projection_reuses_the_sessions_vectors(organism):
    state = {"user_tasks": []}
    names = [t.id for t in paper_tasks()][:2]
    ui.run_clusters(state, names, ["text examples", "image examples"], 1, "pca", "task vectors", 10, False, progress=None)
    cached = dict(state["task_vectors"])
    assert len(cached) == 4
    ui.run_clusters(state, names, ["text examples", "image examples"], 1, "tsne", "task vectors", 10, False,
                    progress=None)
    assert state["task_vectors"] == cached and all(state["task_vectors"][k] is v for k, v in cached.items())
    table, _ = ui.run_summaries(state, names, 1, 3, progress=None)
    assert len(state["task_vectors"]) == 6  # + the instruction vectors; text and image came from the cache
