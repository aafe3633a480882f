"""Logit lens, phase curves, task-vector extraction and geometry."""

import numpy as np
import pytest
import torch

from conftest import color_image, tiny_adapter
from taskvec.core.activations import context_embeddings, residuals
from taskvec.core.lens import phase_curve, top1_distribution, top_k
from taskvec.core.metrics import first_token_match
from taskvec.core.geometry import cosine_matrix, normalize, project, silhouette
from taskvec.core.prompts import icl_prompt, query_prompt
from taskvec.core.specs import Ensemble, ImageExamples, Instruction, TextExamples, example_sets
from taskvec.core.vectors import cosine, extract

PAIRS = (("France", "Paris"), ("Italy", "Rome"), ("Peru", "Lima"), ("Japan", "Tokyo"), ("Chile", "Santiago"))


def test_top_k_matches_a_manual_lens():
    a = tiny_adapter("gemma3")
    r = residuals(a, [icl_prompt(PAIRS[:2], "Peru")]).values[0, :, 0]  # (L+1, D)
    tk = top_k(a, r, k=3)
    assert len(tk.tokens) == a.n_layers + 1 and all(len(t) == 3 for t in tk.tokens)
    manual = torch.softmax(a.lens(r), -1)
    for layer in range(a.n_layers + 1):
        assert tk.ids[layer][0] == int(manual[layer].argmax())
        assert tk.probs[layer][0] == pytest.approx(float(manual[layer].max()), rel=1e-5)


def test_softcapping_is_applied_by_the_lens():
    a = tiny_adapter("gemma3")
    h = torch.randn(a.hidden_size) * 50
    raw = a.lm_head(a.final_norm(h)).float()
    cap = a.softcap()
    expected = torch.tanh(raw / cap) * cap if cap else raw
    torch.testing.assert_close(a.lens(h), expected.detach())


def test_phase_curve_is_the_softmax_over_three_logits():
    a = tiny_adapter("llama")
    prompts = [s for s in example_sets(PAIRS, 2, 4, seed=1)]
    res = residuals(a, [icl_prompt(s.demos, s.query) for s in prompts]).at_delimiter  # (R, L+1, D)
    ids = torch.tensor([[a.token_id(s.query), a.token_id("capital"), a.token_id(s.answer)] for s in prompts])
    pc = phase_curve(a, res, ids)
    assert pc.per_run.shape == (4, a.n_layers + 1, 3)
    torch.testing.assert_close(pc.per_run.sum(-1), torch.ones(4, a.n_layers + 1))
    logits = a.lens(res[2, 1])
    torch.testing.assert_close(pc.per_run[2, 1], torch.softmax(logits[ids[2]], -1))
    assert set(pc.dominant()) <= {"input", "task", "answer"}
    dist = top1_distribution(a, res)
    assert len(dist) == a.n_layers + 1 and all(abs(sum(s for _, s in row) - 1) < 1e-6 for row in dist if len(row) < 5)


def test_example_sets_never_contain_their_query():
    for s in example_sets(PAIRS, 3, 20, seed=3):
        assert s.query not in [x for x, _ in s.demos] and len(s.demos) == 3
    small = example_sets(PAIRS[:3], 5, 3, seed=0)  # leave-one-out when there are too few
    assert [s.query for s in small] == ["France", "Italy", "Peru"]
    assert example_sets(PAIRS, 2, 5, seed=7) == example_sets(PAIRS, 2, 5, seed=7)


def test_extract_averages_over_sets_and_ensembles_weight_their_parts():
    a = tiny_adapter("idefics3")
    text = extract(a, TextExamples(PAIRS), n_examples=2, n_sets=4)
    torch.testing.assert_close(text.vectors, text.per_set.mean(0))
    assert text.per_set.shape == (4, a.n_layers + 1, a.hidden_size)
    instr = extract(a, Instruction("The capital city of the country:"))
    assert instr.per_set.shape[0] == 1
    ens = extract(a, Ensemble((TextExamples(PAIRS), Instruction("The capital city of the country:")), (3.0, 1.0)),
                  n_examples=2, n_sets=4)
    torch.testing.assert_close(ens.vectors, 0.75 * text.vectors + 0.25 * instr.vectors)
    imgs = ImageExamples(tuple((color_image(i), y) for i, (_, y) in enumerate(PAIRS)))
    iv = extract(a, imgs, n_examples=2, n_sets=3)
    assert iv.meta["modality"] == "image" and torch.isfinite(iv.vectors).all()
    assert float(cosine(text.vectors[1], text.vectors[1])) == pytest.approx(1.0, abs=1e-5)


def test_context_embeddings_one_per_example_input():
    for family, prompt in [("llama", icl_prompt(PAIRS[:3], "Spain")),
                           ("idefics3", icl_prompt([(color_image(1), "Paris"), (color_image(2), "Rome")], color_image(3)))]:
        a = tiny_adapter(family)
        n = sum(1 for s in prompt if not isinstance(s, str)) - 1 if family == "idefics3" else 3
        embs = context_embeddings(a, prompt, layer=1)
        assert len(embs) == n and all(e.shape == (a.hidden_size,) for e in embs)


def test_geometry_helpers():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 0.1, (10, 8)) + 5 * np.eye(8)[0], rng.normal(0, 0.1, (10, 8)) + 5 * np.eye(8)[1]])
    labels = ["a"] * 10 + ["b"] * 10
    assert silhouette(X, labels) > 0.8
    assert silhouette(X, ["a"] * 20) != silhouette(X, ["a"] * 20)  # nan: one group only
    C = cosine_matrix(X)
    assert C.shape == (20, 20) and np.allclose(np.diag(C), 1)
    for method in ("pca", "tsne", "umap"):
        Y1, Y2 = project(X, method, seed=0), project(X, method, seed=0)
        assert Y1.shape == (20, 2) and np.allclose(Y1, Y2)
    a = tiny_adapter("llama")
    Z = normalize(a, torch.randn(3, a.hidden_size) * 100)
    assert Z.shape == (3, a.hidden_size) and np.abs(Z).max() < 100


@pytest.mark.parametrize("pred, label, ci, ok", [
    ("Paris", "Paris", False, True), (" Par", "Paris", False, True), ("Paris,", "Paris", False, True),
    ("paris", "Paris", False, False), ("paris", "Paris", True, True), ("", "Paris", False, False),
    ("Rome", "Paris", False, False), ("Canis", "Canis lupus", False, True),
])
def test_first_token_match(pred, label, ci, ok):
    assert first_token_match(pred, label, ci) is ok
