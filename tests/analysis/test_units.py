"""taskvec.analysis.units: instruction typos and the definition of the Additive Patch."""

import torch

from taskvec.analysis.units import Inputs, Unit, add_typos, limited, resolve_task, run_unit
from taskvec.core.activations import residuals
from taskvec.core.patching import first_token_logits, make_patch
from taskvec.core.prompts import query_prompt
from taskvec.core.specs import TextExamples
from taskvec.core.vectors import extract
from taskvec.testing import tiny_adapter

INSTRUCTION = "The capital city of the country:"


def test_typos_are_seeded_letters_only_and_keep_the_delimiter():
    assert add_typos(INSTRUCTION, 0, seed=1) == INSTRUCTION
    a = add_typos(INSTRUCTION, 3, seed=1)
    assert a == add_typos(INSTRUCTION, 3, seed=1) and a != INSTRUCTION
    assert a.endswith(":") and abs(len(a) - len(INSTRUCTION)) <= 3  # a typo changes the length by at most 1
    assert len({add_typos(INSTRUCTION, 3, seed=s) for s in range(8)}) > 1  # the seed matters
    assert add_typos("1234 :", 3, seed=0) == "1234 :"  # only letters are touched


def test_additive_patch_definition():
    """Each Additive Patch prediction is the query's residual + (task vector - mean no-context
    residual of the other split's queries) at that layer."""
    adapter = tiny_adapter("idefics3")
    task = resolve_task("country-capital")
    unit = Unit("country-capital", "text", "text", 5, 0, 0, additive=True)
    r = run_unit(adapter, task, unit, n_sets=3, limit_val=4, limit_test=4)
    val, test = limited(task, 4, 4)
    inputs = Inputs(task)
    tv = extract(adapter, TextExamples(tuple((it.input, it.answer) for it in test)), 5, 3, 0).vectors  # (L+1, D)
    base = residuals(adapter, [query_prompt(it.input) for it in test]).at_delimiter.mean(0)  # (L+1, D)
    row = r["splits"]["val"]["items"][0]
    qp = query_prompt(inputs(val[0], "text"))
    for layer in (0, 2, adapter.n_layers):
        z = first_token_logits(adapter, qp,
                               lambda enc: [make_patch(adapter, enc, tv[layer] - base[layer], layer, "add")])
        assert adapter.decode_token(int(z.argmax())) == row["additive_patch"][layer]
    assert len(row["additive_patch_ok"]) == adapter.n_layers + 1 and "patch" in row
    assert r["unit"]["additive"] is True and set(r["splits"]) == {"val", "test"}
    torch.testing.assert_close(torch.tensor(r["splits"]["test"]["vector_norm"]),
                               extract(adapter, TextExamples(tuple((it.input, it.answer) for it in val)), 5, 3,
                                       0).vectors.norm(dim=-1))
