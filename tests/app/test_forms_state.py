"""Clean forms and state (issue 12, item 5): only the chosen specification's inputs are visible, built-in
examples set every field, results are cleared after a model change, and sessions cache their vectors."""

import pytest

from taskvec.app import examples as EX

gr = pytest.importorskip("gradio")
ui = pytest.importorskip("taskvec.app.ui")
from taskvec.app import session  # noqa: E402
from taskvec.app.tabs import playground as PT  # noqa: E402


def test_only_the_chosen_specification_is_visible():
    for kind, shown in (("text examples", 0), ("image examples", 1), ("instruction", 2)):
        vis = [u.visible for u in PT.show_inputs(kind)]
        assert vis == [i == shown for i in range(3)]


def test_every_example_row_sets_every_field_and_clears_the_unused_ones():
    for row in EX.playground_examples():
        r = dict(zip(EX.FIELDS, row))
        assert len(row) == len(EX.FIELDS) and r["kind"] in ("text examples", "image examples", "instruction")
        assert bool(r["examples"]) == (r["kind"] == "text examples")
        assert bool(r["image_files"]) == (r["kind"] == "image examples") == bool(r["image_answers"])
        assert bool(r["instruction"]) == (r["kind"] == "instruction")
        assert bool(r["query_text"]) != bool(r["query_image"])  # one query, not two


def test_results_are_cleared_after_a_model_change(monkeypatch):
    md, plot = gr.Markdown(render=False), gr.Plot(render=False)
    clear = ui.stale([md, plot])

    class Host:
        error, adapter = "", type("A", (), {"model_id": "tiny-random/llama"})()

    monkeypatch.setattr(ui, "HOST", Host())
    note, fig = clear("banner")
    assert "Model changed to `tiny-random/llama`" in note and fig is None
    Host.error = "Cannot load"  # a failed load keeps the previous model, and its results
    assert all(isinstance(u, type(gr.skip())) for u in clear("banner"))


def test_session_caches_are_per_session_and_bounded():
    a, b = {}, {}
    session.vector_cache(a)["k"] = 1
    assert session.vector_cache(a) == {"k": 1} and session.vector_cache(b) == {}
    cache = session.session_results(a, "sweeps")
    cache.update({i: i for i in range(session.MAX_RESULTS + 1)})
    assert session.session_results(a, "sweeps") == {} and session.vector_cache(None) is None
