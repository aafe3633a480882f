"""``--protocol paper`` against an independent re-implementation of the authors' procedure.

The reference below is written from the paper and the official code's documented behaviour
(github g-luo/task_vectors_are_cross_modal, commit 25c7463), not from taskvec: it builds the
official strings itself (``Q:{x}\\nA:{y}\\n\\n`` x 5 + the *image* query ``Q:<image>\\nA:``), calls
the processor directly, seeds numpy's global generator per (task, seed) and draws
``permutation(others)[:5]`` per item in order, finds the ':' token id of ``tokenizer("A:")`` and
takes its third occurrence from the end (the last demonstration's ``A:``), records the output
of decoder layer ``L`` with its own forward hooks, averages over every validation item, and
patches by overwriting the output of decoder layer ``L`` at the query's last ':'. taskvec's
residual layer is ``l = L + 1``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from taskvec.analysis import paper
from taskvec.analysis.protocol import PAPER, PAPER_FIG6, TASKVEC, Inputs, correct, limited, score_split
from taskvec.core.prompts import query_prompt
from taskvec.core.sweep import layer_sweep
from taskvec.data.tasks import load_task
from taskvec.testing import tiny_adapter

N_VAL = N_TEST = 6
SEED = 1  # the official seeds are 1, 2, 3
DECODER_LAYERS = {"idefics2": "model.text_model.layers", "llava": "model.language_model.layers"}


def _layers(model, family):
    mod = model
    for name in DECODER_LAYERS[family].split("."):
        mod = getattr(mod, name)
    return mod


class Official:
    """The official procedure on one model: prompts, sampling, reading, patching."""

    def __init__(self, adapter, family):
        self.model, self.processor, self.family = adapter.model, adapter.processor, family
        self.tok = self.processor.tokenizer
        self.colon = self.tok("A:")["input_ids"][-1]
        self.layers = _layers(self.model, family)

    def sets(self, n_items, n, seed):
        state = np.random.get_state()
        np.random.seed(seed)
        out = [np.random.permutation([i for i in range(n_items) if i != idx])[:n].tolist() for idx in range(n_items)]
        np.random.set_state(state)
        return out

    def prompt(self, demos, query_text="<image>"):
        return "".join(f"Q:{x}\nA:{y}\n\n" for x, y in demos) + f"Q:{query_text}\nA:"

    def batch(self, text, image=None):
        return self.processor(text=text, images=[image] if image is not None else None, return_tensors="pt")

    def run(self, batch, edit=None):
        """Forward once; outputs of every decoder layer (B, T, D), optionally edited."""
        outs = {}

        def hook(L):
            def fn(module, args, output):
                h = output[0] if isinstance(output, tuple) else output
                if edit is not None:
                    edit(L, h)
                outs[L] = h.detach().clone()
                return output
            return fn

        handles = [layer.register_forward_hook(hook(L)) for L, layer in enumerate(self.layers)]
        try:
            with torch.no_grad():
                logits = self.model(**batch).logits
        finally:
            for h in handles:
                h.remove()
        return logits[0, -1], outs

    def vector(self, pairs, images, seed, n=5):
        """Mean over validation items of the output of each decoder layer at the last demo's ':'."""
        feats = []
        for idx, demos in enumerate(self.sets(len(pairs), n, seed)):
            b = self.batch(self.prompt([pairs[j] for j in demos]), images[idx])
            pos = (b["input_ids"][0] == self.colon).nonzero()[:, 0][-3]
            _, outs = self.run(b)
            feats.append(torch.stack([outs[L][0, pos] for L in range(len(self.layers))]))  # (L, D)
        return torch.stack(feats).mean(0)  # (n_layers, D)

    def patched(self, image, vec, L):
        b = self.batch(self.prompt([]), image)
        pos = (b["input_ids"][0] == self.colon).nonzero()[:, 0][-1]

        def edit(layer, h):
            if layer == L:
                h[0, pos] = vec

        return self.run(b, edit)[0]  # (V,)

    def first_token(self, logits):
        return self.tok.batch_decode([[int(logits.argmax())]], skip_special_tokens=True)[0]


@pytest.fixture(scope="module")
def task():
    return load_task("country-capital")


@pytest.mark.parametrize("family", ["idefics2", "llava"])
def test_paper_protocol_equals_official_procedure(family, task):
    adapter = tiny_adapter(family)
    ref = Official(adapter, family)
    val, test = limited(task, N_VAL, N_TEST)
    inputs = Inputs(task)
    val_pairs = [(it.input, it.answer) for it in val]
    val_images = [inputs(it, "image") for it in val]
    official = ref.vector(val_pairs, val_images, SEED)  # (n_layers, D)

    vec, per_set = paper.task_vector(adapter, "text", val_pairs, 5, SEED)
    assert per_set.shape[0] == N_VAL  # every validation item is a set
    from taskvec.core.specs import TextExamples
    from taskvec.core.vectors import extract

    default = extract(adapter, TextExamples(tuple(val_pairs)), 5, N_VAL, SEED).vectors  # the query's ':' instead
    assert not torch.allclose(default[1:], vec[1:], atol=1e-3)  # so the comparison below can fail
    for L in range(adapter.n_layers):  # official decoder output L == taskvec residual l = L + 1
        torch.testing.assert_close(vec[paper.to_taskvec(L)], official[L].float(), atol=2e-5, rtol=1e-4)

    res = score_split(adapter, task, "text", "image", "test", seed=SEED, limit_val=N_VAL, limit_test=N_TEST,
                      inputs=inputs, protocol=PAPER)
    demos = ref.sets(N_TEST, 5, SEED)  # the "regular" run: demonstrations from the test split itself
    test_pairs = [(it.input, it.answer) for it in test]
    for i, item in enumerate(test):
        image, row = inputs(item, "image"), res["items"][i]
        sweep = layer_sweep(adapter, query_prompt(image), vec)
        for L in range(adapter.n_layers):
            z = ref.patched(image, official[L], L)
            torch.testing.assert_close(sweep.logits[L + 1].float(), z.float(), atol=5e-5, rtol=1e-4)
            assert row["patch"][L + 1].strip() == ref.first_token(z).strip()
        regular = ref.run(ref.batch(ref.prompt([test_pairs[j] for j in demos[i]]), image))[0]
        assert row["prompt"].strip() == ref.first_token(regular).strip()
        no_ctx = ref.run(ref.batch(ref.prompt([]), image))[0]
        assert row["no_context"].strip() == ref.first_token(no_ctx).strip()


def test_validation_vector_patches_both_splits(task):
    """One validation vector for val and test queries (the official feats folder is val)."""
    adapter = tiny_adapter("idefics2")
    kw = dict(seed=SEED, limit_val=N_VAL, limit_test=N_TEST, protocol=PAPER)
    v = score_split(adapter, task, "text", "text", "val", **kw)
    t = score_split(adapter, task, "text", "text", "test", **kw)
    assert v["vector_norm"] == t["vector_norm"]
    d = score_split(adapter, task, "text", "text", "val", seed=0, limit_val=N_VAL, limit_test=N_TEST)
    assert d["vector_norm"] != t["vector_norm"]  # taskvec: val queries take the test split's vector


def test_fig6_n_is_mean_of_five_shot_vectors(task):
    adapter = tiny_adapter("llava")
    val, _ = limited(task, N_VAL, N_TEST)
    pairs = [(it.input, it.answer) for it in val]
    _, per_set = paper.task_vector(adapter, "text", pairs, 5, SEED)
    for n in (5, 10, 30):
        rows = paper.fig6_rows(len(per_set), n, SEED) if n <= 5 * len(per_set) else None
        vec, _ = paper.task_vector(adapter, "text", pairs, n, SEED, fig6=True)
        state = np.random.get_state()
        np.random.seed(SEED)  # official: np.random.seed(seed); permutation(range(K))[:N // 5]
        expect = np.random.permutation(range(len(per_set)))[: n // 5].tolist()
        np.random.set_state(state)
        assert rows == expect
        torch.testing.assert_close(vec, per_set[expect].mean(0))
    ens, _ = paper.task_vector(adapter, "ensemble", pairs, 10, SEED, "The capital city of the country:", fig6=True)
    inst = paper.instruction_vector(adapter, "The capital city of the country:")
    torch.testing.assert_close(ens, (per_set[expect[:2]].mean(0) + inst) / 2)
    with pytest.raises(Exception, match="multiple of 5"):
        paper.fig6_rows(6, 7, SEED)
    assert correct("paris", "Paris", "text", PAPER_FIG6) and not correct("paris", "Paris", "text", PAPER)


def test_presets_and_layer_numbering():
    assert TASKVEC.as_dict()["name"] == "taskvec" and not TASKVEC.official
    assert PAPER.official and PAPER.first_seed == 1 and PAPER.quantization == "nf4" and PAPER.pin_revisions
    assert paper.fixed_layer("HuggingFaceM4/idefics2-8b") == 17 and paper.fixed_layer("llava-hf/llava-1.5-7b-hf") == 16
    assert paper.fixed_layer("TIGER-Lab/Mantis-8B-Fuyu") == 24 and paper.fixed_layer("organism") is None
    assert paper.pinned_revision("llava-hf/llava-1.5-7b-hf") == "a272c74b2481d8aff3aa6fc2c4bf891fe57334fb"
    assert paper.to_official(17) == 16 and paper.to_official(0) is None
    assert "official L=16" in paper.layer_label(17)
    with pytest.raises(Exception, match="MFuyuProcessor"):
        paper.check_mantis("TIGER-Lab/Mantis-8B-Fuyu")


def test_instruction_without_delimiter_reads_last_token():
    """Official embed_prompt reads the last token; taskvec's default raises a typed DelimiterError."""
    from taskvec.core.specs import Instruction
    from taskvec.core.vectors import extract
    from taskvec.errors import DelimiterError, TaskvecError

    adapter = tiny_adapter("llava")
    v = paper.instruction_vector(adapter, "The capital city of the country")
    assert v.shape == (adapter.n_layers + 1, adapter.hidden_size) and torch.isfinite(v).all()
    with pytest.raises(DelimiterError) as e:
        extract(adapter, Instruction("The capital city of the country"))
    assert isinstance(e.value, TaskvecError) and "delimiter" in str(e.value)


def _unit(seed, val, test, protocol=None, fixed=None):
    """A hand-made unit of one task: item i correct at layer l iff i < count[l] (4 items)."""
    def split(counts):
        return {"items": [{"input": f"q{i}", "answer": "Paris", "no_context": "x", "no_context_ok": False,
                           "prompt": "x", "prompt_ok": False, "random": "Paris", "random_ok": False,
                           "patch": ["x"] * len(counts), "patch_ok": [i < c for c in counts]} for i in range(4)],
                "vector_norm": [1.0] * len(counts)}
    u = {"unit": {"task": "t", "spec": "text", "query": "image", "n_examples": 5, "typos": 0, "seed": seed,
                  "additive": False}, "instruction": "", "case_insensitive": False,
         "splits": {"val": split(val), "test": split(test)}}
    if protocol is not None:
        u["protocol"], u["fixed_layer"] = protocol.as_dict(), fixed
    return u


def test_official_layer_rule_in_tables():
    """taskvec picks per seed among 0..L; the official rule pools seeds (or takes the fixed layer)."""
    from taskvec.analysis.tables import summarize

    # val counts per layer 0..2: seed a [0, 1, 3], seed b [0, 3, 0]; test: a [0, 4, 0], b [0, 2, 2]
    args = [((1, [0, 1, 3], [0, 4, 0])), ((2, [0, 3, 0], [0, 2, 2]))]
    s = summarize([_unit(*a) for a in args], ["t"])
    assert s["best_layer_per_seed"] == [2, 1] and s["table"]["Text Examples Patch"]["Avg"] == (0 + 0.5) / 2
    s = summarize([_unit(*a, protocol=PAPER) for a in args], ["t"])  # pooled val: l1 4/8 > l2 3/8
    assert s["best_layer_per_seed"] == [1, 1] and s["best_layer_per_seed_official"] == [0, 0]
    assert s["table"]["Text Examples Patch"]["Avg"] == (1.0 + 0.5) / 2 and s["protocol"] == "paper"
    s = summarize([_unit(*a, protocol=PAPER, fixed={"taskvec": 2, "official": 1}) for a in args], ["t"])
    assert s["best_layer_per_seed"] == [2, 2] and s["chosen_layer"] == 2 and "official L=1" in s["layer_rule"]
    assert s["table"]["Text Examples Patch"]["Avg"] == (0 + 0.5) / 2


def test_units_of_an_official_model_carry_its_fixed_layer(task):
    """A unit of an official checkpoint records its fixed layer in both numberings; a model with
    fewer layers than the official one is refused before any forward."""
    from taskvec.analysis.units import Unit, run_unit
    from taskvec.errors import LayerError

    tiny = tiny_adapter("idefics2")
    fake = type(tiny)(tiny.model, tiny.processor, "HuggingFaceM4/idefics2-8b")
    with pytest.raises(LayerError, match="official layer L=16"):
        run_unit(fake, task, Unit("country-capital", "text", "text", 5, 0, 1, protocol="paper"), 1, 4, 4)
    r = run_unit(tiny, task, Unit("country-capital", "text", "text", 5, 0, 1, protocol="paper"), 1, 4, 4)
    assert r["fixed_layer"] is None and r["protocol"]["name"] == "paper" and r["unit"]["protocol"] == "paper"


def test_descriptive_views_follow_the_paper_protocol():
    """Summaries and clusters read vectors through analysis.vectors.task_vector; under --protocol paper
    they are the official ones: one set per validation item, read at the last demonstration's ':',
    equal to the reference procedure's (text examples, so the official prompt carries no image)."""
    from taskvec.analysis.summaries import summaries
    from taskvec.analysis.vectors import task_vector
    from taskvec.core.lens import top_k
    from taskvec.data.tasks import task_from_pairs

    adapter = tiny_adapter("llava")
    ref = Official(adapter, "llava")
    pairs = [("France", "Paris"), ("Italy", "Rome"), ("Peru", "Lima"), ("Chile", "Santiago"), ("Japan", "Tokyo"),
             ("Kenya", "Nairobi"), ("Spain", "Madrid"), ("Egypt", "Cairo"), ("Ghana", "Accra")]
    task = task_from_pairs("capitals", pairs, instruction="The capital city of the country:")
    val = [(it.input, it.answer) for it in task.split("val")]
    assert len(val) >= 2
    feats = []
    for idx, demos in enumerate(ref.sets(len(val), 5, SEED)):  # the reference, text query, no image
        b = ref.tok(ref.prompt([val[j] for j in demos], val[idx][0]), return_tensors="pt")
        pos = (b["input_ids"][0] == ref.colon).nonzero()[:, 0][-3]
        _, outs = ref.run(dict(b))
        feats.append(torch.stack([outs[L][0, pos] for L in range(len(ref.layers))]))
    official = torch.stack(feats).mean(0)  # (n_layers, D)
    cache: dict = {}
    tv = task_vector(adapter, task, "text", seed=SEED, cache=cache, protocol="paper")
    assert tv.per_set.shape[0] == len(val) and tv.meta["protocol"] == "paper"
    for L in range(adapter.n_layers):
        torch.testing.assert_close(tv.vectors[paper.to_taskvec(L)], official[L].float(), atol=2e-5, rtol=1e-4)
    default = task_vector(adapter, task, "text", seed=SEED, cache=cache)  # cached apart: its own sets
    assert not torch.allclose(default.vectors[1:], tv.vectors[1:], atol=1e-3) and len(cache) == 2
    res = summaries(adapter, [task], 2, modalities=("text",), k=3, seed=SEED, cache=cache, protocol="paper")
    assert res.topk["capitals"]["text"].tokens == top_k(adapter, tv.vectors, 3).tokens
    inst = task_vector(adapter, task, "instruction", protocol="paper")
    torch.testing.assert_close(inst.vectors, paper.instruction_vector(adapter, task.instruction).float())
    few = task_from_pairs("two", pairs[:3])
    with pytest.raises(Exception, match="validation item"):
        task_vector(adapter, few, "text", protocol="paper")
