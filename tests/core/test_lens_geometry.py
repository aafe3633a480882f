"""Logit lens, phase curves, task-vector extraction and geometry."""

import copy
import math

import numpy as np
import pytest
import torch

from taskvec.core.activations import context_embeddings, residuals
from taskvec.core.lens import phase_curve, role_token_ids, top1_distribution, top_k
from taskvec.core.metrics import first_token_match
from taskvec.core.geometry import cosine_matrix, normalize, project, silhouette
from taskvec.core.patching import first_token_logits
from taskvec.core.prompts import icl_prompt, query_prompt
from taskvec.core.specs import Ensemble, ImageExamples, Instruction, TextExamples, example_sets
from taskvec.core.vectors import cosine, extract
from taskvec.models import registry
from taskvec.testing import build_tiny, color_image, tiny_adapter

PAIRS = (("France", "Paris"), ("Italy", "Rome"), ("Peru", "Lima"), ("Japan", "Tokyo"), ("Chile", "Santiago"))


class IdentityLens:
    """A stand-in adapter whose logit lens is the identity (residual = logits), so lens results
    can be worked out by hand; token ``i`` decodes to ``"t{i}"``."""

    def lens(self, h: torch.Tensor) -> torch.Tensor:
        return h.float()

    def decode_token(self, i: int) -> str:
        return f"t{i}"


def test_top_k_by_hand():
    log = torch.log(torch.tensor([[0.5, 0.3, 0.2, 0.0], [0.1, 0.6, 0.0, 0.3]]))  # (L+1=2, V=4) -> softmax = probs
    tk = top_k(IdentityLens(), log, k=2)
    assert tk.ids == [[0, 1], [1, 3]] and tk.tokens == [["t0", "t1"], ["t1", "t3"]]
    assert tk.probs[0] == pytest.approx([0.5, 0.3]) and tk.probs[1] == pytest.approx([0.6, 0.3])
    assert top_k(IdentityLens(), log, k=10).ids[0] == [0, 1, 2, 3]  # k is capped at the vocabulary
    a = tiny_adapter("gemma3")  # on a model: one row of k per residual layer
    r = residuals(a, [icl_prompt(PAIRS[:2], "Peru")]).values[0, :, 0]  # (L+1, D)
    tk = top_k(a, r, k=3)
    assert len(tk.tokens) == a.n_layers + 1 and all(len(t) == 3 for t in tk.tokens)
    assert all(p[0] >= p[1] >= p[2] > 0 for p in tk.probs)


SOFTCAP = 0.1  # below the tiny Gemma 3's logit scale (|logits| ~0.3-0.5), so the cap visibly bends them


def _softcapped_gemma3_text():
    """A tiny Gemma 3 *text* model (Gemma3ForCausalLM, which applies final_logit_softcapping in its
    forward) with a softcap, wrapped in the Gemma 3 adapter; same tokenizer as the tiny VLM."""
    from transformers import Gemma3ForCausalLM

    vlm, proc = build_tiny("gemma3")
    cfg = copy.deepcopy(vlm.config.get_text_config())
    cfg.final_logit_softcapping = SOFTCAP
    torch.manual_seed(0)
    model = Gemma3ForCausalLM(cfg).eval()
    return registry.adapter_for("gemma3")(model, proc.tokenizer, "tiny-random/gemma3-text-softcap",
                                          meaningless_weights=True)


def _last_layer_lens_and_logits(a):
    q = query_prompt("Spain")
    last = int(a.encode([q]).lengths[0]) - 1
    h = residuals(a, [q], positions=[[last]]).values[0, -1, 0]  # (D,) output of the last decoder layer
    return h, a.lens(h), first_token_logits(a, q)


def test_softcapping_is_applied_by_the_lens():
    a = _softcapped_gemma3_text()
    assert a.softcap() == SOFTCAP  # read from the text config's final_logit_softcapping
    h, lens, logits = _last_layer_lens_and_logits(a)
    assert float(logits.abs().max()) < SOFTCAP  # transformers capped the model's own logits
    torch.testing.assert_close(lens, logits, atol=1e-5, rtol=1e-4)
    with torch.no_grad():
        uncapped = a.lm_head(a.final_norm(h)).float()  # (V,) final norm + unembedding, no cap
    assert float(uncapped.abs().max()) > 2 * SOFTCAP
    assert float((uncapped - logits).abs().max()) > 0.1  # a lens without the cap would be far off


def test_softcapped_gemma3_vlm_lens_matches_its_logits():
    # transformers 5.23's Gemma3ForConditionalGeneration ignores final_logit_softcapping in its forward;
    # the adapter's lens caps exactly when the model's forward does (families/gemma3.py softcap()).
    model, proc = build_tiny("gemma3")  # a fresh build: the shared tiny model is never mutated
    model.config.get_text_config().final_logit_softcapping = SOFTCAP
    a = registry.adapter_for("gemma3")(model, proc, "tiny-random/gemma3-softcap", meaningless_weights=True)
    _, lens, logits = _last_layer_lens_and_logits(a)
    torch.testing.assert_close(lens, logits, atol=1e-5, rtol=1e-4)


def test_phase_curve_by_hand():
    ln = math.log
    res = torch.full((2, 2, 6), 50.0)  # (R=2, L+1=2, V=6); tokens outside the three roles must not count
    res[0, 0, [1, 3, 4]] = torch.tensor([0.0, ln(2), ln(5)])  # -> 1/8, 2/8, 5/8
    res[0, 1, [1, 3, 4]] = torch.tensor([ln(3), 0.0, 0.0])  # -> 3/5, 1/5, 1/5
    res[1, 0, [2, 3, 4]] = torch.tensor([ln(3), ln(3), ln(2)])  # -> 3/8, 3/8, 2/8
    res[1, 1, [2, 3, 4]] = torch.tensor([0.0, 0.0, ln(8)])  # -> 1/10, 1/10, 8/10
    pc = phase_curve(IdentityLens(), res, torch.tensor([[1, 3, 4], [2, 3, 4]]))  # (input, task, answer) per run
    expected = torch.tensor([[[1 / 8, 2 / 8, 5 / 8], [3 / 5, 1 / 5, 1 / 5]],
                             [[3 / 8, 3 / 8, 2 / 8], [1 / 10, 1 / 10, 8 / 10]]])
    torch.testing.assert_close(pc.per_run, expected)
    torch.testing.assert_close(pc.mean, torch.tensor([[1 / 4, 5 / 16, 7 / 16], [7 / 20, 3 / 20, 1 / 2]]))
    torch.testing.assert_close(pc.std, torch.tensor([[1 / 8, 1 / 16, 3 / 16], [1 / 4, 1 / 20, 3 / 10]]))  # population
    assert pc.dominant() == ["answer", "answer"] and pc.peak_layers() == {"input": 1, "task": 0, "answer": 1}
    assert pc.tokens == ("t1", "t3", "t4")  # decoded from the first run
    one = phase_curve(IdentityLens(), res[:1], torch.tensor([1, 3, 4]))  # (3,) ids: the same for every run
    torch.testing.assert_close(one.per_run, expected[:1])


def test_phase_curve_and_top1_on_a_model():
    a = tiny_adapter("llama")
    prompts = [s for s in example_sets(PAIRS, 2, 4, seed=1)]
    res = residuals(a, [icl_prompt(s.demos, s.query) for s in prompts]).at_delimiter  # (R, L+1, D)
    ids = role_token_ids(a, [s.query for s in prompts], "capital", [s.answer for s in prompts])
    assert ids[:, 0].tolist() == [a.token_id(":")] * 4 and ids[:, 1].tolist() == [a.token_id("capital")] * 4
    pc = phase_curve(a, res, ids)
    assert pc.per_run.shape == (4, a.n_layers + 1, 3)
    torch.testing.assert_close(pc.per_run.sum(-1), torch.ones(4, a.n_layers + 1))
    # three runs of r0 and one of r1: each layer's top-1 shares are 3/4 and 1/4 (or 1 if they agree)
    runs = torch.stack([res[0], res[0], res[0], res[1]])  # (4, L+1, D)
    dist = top1_distribution(a, runs)
    assert len(dist) == a.n_layers + 1
    for layer, row in enumerate(dist):
        t0, t1 = (a.decode_token(int(a.lens(res[i, layer]).argmax())) for i in (0, 1))
        assert row == ([(t0, 1.0)] if t0 == t1 else [(t0, 0.75), (t1, 0.25)]), layer


def test_example_sets_never_contain_their_query():
    for s in example_sets(PAIRS, 3, 20, seed=3):
        assert s.query not in [x for x, _ in s.demos] and len(s.demos) == 3
    small = example_sets(PAIRS[:3], 5, 3, seed=0)  # leave-one-out when there are too few
    assert [s.query for s in small] == ["France", "Italy", "Peru"]
    assert example_sets(PAIRS, 2, 5, seed=7) == example_sets(PAIRS, 2, 5, seed=7)  # seeded
    assert example_sets(PAIRS, 2, 5, seed=7) != example_sets(PAIRS, 2, 5, seed=8)


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


def test_context_embeddings_one_per_example_input():
    for family, prompt in [("llama", icl_prompt(PAIRS[:3], "Spain")),
                           ("idefics3", icl_prompt([(color_image(1), "Paris"), (color_image(2), "Rome")], color_image(3)))]:
        a = tiny_adapter(family)
        n = sum(1 for s in prompt if not isinstance(s, str)) - 1 if family == "idefics3" else 3
        embs = context_embeddings(a, prompt, layer=1)
        assert len(embs) == n and all(e.shape == (a.hidden_size,) for e in embs)


def test_cosine_by_hand():
    u = torch.tensor([[1.0, 0.0], [1.0, 1.0], [3.0, 4.0]])  # (3, 2): one vector per layer
    v = torch.tensor([[0.0, 2.0], [2.0, 2.0], [-6.0, -8.0]])
    torch.testing.assert_close(cosine(u, v), torch.tensor([0.0, 1.0, -1.0]))  # per layer, last dim
    torch.testing.assert_close(cosine(u[0], u[1]), torch.tensor(1 / math.sqrt(2)))
    C = cosine_matrix(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [0.0, -3.0]]))
    s = 1 / math.sqrt(2)
    np.testing.assert_allclose(C, [[1, s, 0, 0], [s, 1, 0, -s], [0, 0, 0, 0], [0, -s, 0, 1]], atol=1e-12)  # 0-vector: 0


def two_clusters():
    """10 points near 5*e0 and 10 near 5*e1 in 8-D (noise 0.1)."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 0.1, (10, 8)) + 5 * np.eye(8)[0], rng.normal(0, 0.1, (10, 8)) + 5 * np.eye(8)[1]])
    return X, ["a"] * 10 + ["b"] * 10


def separated(Y) -> bool:
    """Every within-cluster distance of the 2-D embedding is below every between-cluster distance."""
    D = np.linalg.norm(Y[:, None] - Y[None], axis=-1)
    return D[:10, :10].max() < D[:10, 10:].min() and D[10:, 10:].max() < D[:10, 10:].min()


def test_silhouette_and_normalize():
    X, labels = two_clusters()
    assert silhouette(X, labels) > 0.9
    same = np.array([[1.0, 0.0]] * 3 + [[0.0, 1.0]] * 3)  # identical points, orthogonal groups (cosine)
    assert silhouette(same, list("aaabbb")) == pytest.approx(1.0)
    assert math.isnan(silhouette(X, ["a"] * 20))  # one group
    assert math.isnan(silhouette(X[:3], ["a", "b", "c"]))  # every point its own group
    a = tiny_adapter("llama")  # RMSNorm with weight 1 (tiny model): each row gets RMS 1, whatever its scale
    h = torch.randn(3, a.hidden_size, generator=torch.Generator().manual_seed(0))
    Z = normalize(a, h * 100)
    assert Z.shape == (3, a.hidden_size)
    np.testing.assert_allclose(np.sqrt((Z ** 2).mean(1)), 1.0, rtol=1e-4)
    np.testing.assert_allclose(Z, normalize(a, h), rtol=1e-4, atol=1e-5)


def test_pca_and_tsne_projections():
    X, _ = two_clusters()
    Y = project(X, "pca", seed=0)
    # centred, the clusters sit at +-2.5 * (e0 - e1): PC 1 = +-2.5 * sqrt(2) = +-3.54, PC 2 is noise only
    assert Y.shape == (20, 2)
    np.testing.assert_allclose(np.abs(Y[:, 0]), 2.5 * math.sqrt(2), atol=0.4)
    assert np.all(np.sign(Y[:10, 0]) == np.sign(Y[0, 0])) and np.all(np.sign(Y[10:, 0]) == -np.sign(Y[0, 0]))
    assert np.abs(Y[:, 1]).max() < 0.5
    T = project(X, "tsne", seed=0)
    assert T.shape == (20, 2) and separated(T)
    np.testing.assert_array_equal(T, project(X, "tsne", seed=0))  # seeded: the same run to run
    with pytest.raises(ValueError, match="at least 3"):
        project(X[:2], "pca")
    with pytest.raises(ValueError, match="pca, tsne or umap"):
        project(X, "mds")


@pytest.mark.slow  # numba compiles UMAP on first use: ~40 s cold; ~15 s once tests/conftest.py's NUMBA_CACHE_DIR
# holds the cacheable part (umap's parallel functions in fuzzy_simplicial_set are not cached by numba)
def test_umap_projection():
    X, _ = two_clusters()
    U = project(X, "umap", seed=0)
    assert U.shape == (20, 2) and separated(U)
    np.testing.assert_array_equal(U, project(X, "umap", seed=0))


@pytest.mark.parametrize("pred, label, ci, ok", [
    ("Paris", "Paris", False, True), (" Par", "Paris", False, True), ("Paris,", "Paris", False, True),
    ("paris", "Paris", False, False), ("paris", "Paris", True, True), ("", "Paris", False, False),
    ("Rome", "Paris", False, False), ("Canis", "Canis lupus", False, True),
])
def test_first_token_match(pred, label, ci, ok):
    assert first_token_match(pred, label, ci) is ok
