"""Figures that do not mislead (issue 12, item 6): the lens's top-1 view by role, a phase legend that does not
name one set's answer for a mean over sets, the tour's aggregate bars, the vocabulary check's silence on
known words."""

import numpy as np

from taskvec import plot as P


def test_top1_roles_sum_to_one_and_group_each_sets_answer():
    dist = [[(":", 1.0)], [("capital", 0.7), ("Paris", 0.2)], [("Paris", 0.3), ("Rome", 0.3), ("Lima", 0.2),
                                                                ("the", 0.1)]]
    fig = P.top1_roles_figure(dist, ":", "capital", ["Paris", "Rome", "Lima"])
    share = {tr.name.split(" ")[0]: list(tr.y) for tr in fig.data}
    assert share["input"] == [1.0, 0.0, 0.0] and share["task"] == [0.0, 0.7, 0.0]
    assert np.allclose(share["answer"], [0.0, 0.2, 0.8]) and np.allclose(share["other"], [0.0, 0.1, 0.2])
    assert np.allclose(np.sum([share[r] for r in share], axis=0), 1.0)


def test_phase_legend_does_not_name_one_sets_answer():
    fig = P.phase_figure(np.full((3, 3), 1 / 3), np.zeros((3, 3)), [":", "capital", "Abuja"])
    names = [tr.name for tr in fig.data if tr.showlegend is not False]
    assert "answer (each set's own)" in names and not any("Abuja" in n for n in names)


def test_method_bars_on_a_fixed_unit_axis():
    fig = P.method_bars({"model": {"No Context": 0.26, "Prompt": 0.45, "Patch": 0.74},
                         "paper": {"No Context": 0.01, "Prompt": 0.18, "Patch": 0.51}}, "t")
    assert list(fig.data[1].y) == [0.01, 0.18, 0.51] and tuple(fig.layout.yaxis.range) == (0, 1.08)
