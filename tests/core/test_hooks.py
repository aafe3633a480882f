"""Scoped hooks: they say what they did, never outlive their block, and fail with typed errors."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from taskvec.core.hooks import Capture, Edit, Patch, hooked_modules, intervene  # noqa: E402
from taskvec.core.patching import decode_text, first_token_logits, generate, special_ids  # noqa: E402
from taskvec.core.prompts import find_delimiter, instruction_prompt, query_prompt  # noqa: E402
from taskvec.errors import (DelimiterError, LayerNotRunError, PatchError, PositionError,  # noqa: E402
                            TaskvecError)
from taskvec.testing import tiny_adapter  # noqa: E402


class Block(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.lin = nn.Linear(d, d)

    def forward(self, h):
        return h + torch.tanh(self.lin(h))  # (B, T, D)


class Stack(nn.Module):
    """A toy decoder: ``skip`` decoder layers are not run, decoder layer ``fail_at`` raises."""

    def __init__(self, n=4, d=8, skip=(), fail_at=None):
        super().__init__()
        torch.manual_seed(0)
        self.layers = nn.ModuleList(Block(d) for _ in range(n))
        self.skip, self.fail_at = set(skip), fail_at

    def forward(self, h):
        for i, layer in enumerate(self.layers):
            if i == self.fail_at:
                raise RuntimeError("boom")
            if i not in self.skip:
                h = layer(h)
        return h


X = torch.randn(2, 5, 8)  # (B, T, D)


def test_handle_records_fired_layers_and_calls():
    m = Stack()
    cap = Capture([0, -1], torch.tensor([[1, 4], [0, 2]]))
    edits = [Edit(2, lambda h: h, calls="all"), Patch(3, -1, torch.zeros(8), calls={1})]
    with intervene(m.layers, edits, [cap]) as run:
        for _ in range(3):
            m(X)
    assert run.requested == (0, 2, 3, 4)
    assert run.calls == {0: 3, 2: 3, 3: 3, 4: 3} and run.fired == [0, 2, 3, 4] and run.never_ran == []
    assert run.patched == {0: [], 2: [0, 1, 2], 3: [1], 4: []}
    assert set(cap.store) == {0, -1} and cap.store[-1].shape == (2, 2, 8)  # keyed as requested
    torch.testing.assert_close(cap.store[0], X[torch.arange(2)[:, None], torch.tensor([[1, 4], [0, 2]])])
    assert hooked_modules(m) == []


def test_a_layer_that_never_runs_raises():
    m = Stack(skip={1})  # decoder layer 1 never runs: residual layer 2 never exists
    for kw in ({"patches": [Patch(2, 0, torch.zeros(8))]}, {"captures": [Capture([2], torch.zeros(2, 1).long())]}):
        with pytest.raises(LayerNotRunError) as e:
            with intervene(m.layers, **kw):
                m(X)
        assert "2 (output of decoder layer 1) never ran" in str(e.value)
        assert hooked_modules(m) == []
    with pytest.raises(LayerNotRunError, match="never ran"):  # no forward at all
        with intervene(m.layers, [Edit(0, lambda h: h)]):
            pass
    with pytest.raises(LayerNotRunError, match="call #1"):  # a capture of a call that never came
        s = Stack()
        with intervene(s.layers, captures=[Capture([1], torch.zeros(2, 1).long(), call=1)]):
            s(X)
    assert issubclass(LayerNotRunError, TaskvecError)


def test_an_exception_inside_the_block_is_not_masked_and_hooks_go():
    m = Stack(fail_at=1)  # residual layers >= 2 never run because of the error
    with pytest.raises(RuntimeError, match="boom"):
        with intervene(m.layers, [Patch(0, 0, torch.zeros(8)), Patch(3, 0, torch.zeros(8))],
                       [Capture([4], torch.zeros(2, 1).long())]):
            m(X)
    assert hooked_modules(m) == []


def test_a_registration_failing_in_the_middle_leaves_no_hook(monkeypatch):
    m = Stack()

    def refuse(*args, **kwargs):
        raise RuntimeError("registration failed")

    monkeypatch.setattr(m.layers[2], "register_forward_hook", refuse)
    with pytest.raises(RuntimeError, match="registration failed"):
        with intervene(m.layers, [Edit(l, lambda h: h) for l in (0, 1, 2, 3, 4)]):
            m(X)
    assert hooked_modules(m) == []


def test_no_hook_after_a_normal_or_a_raising_call_on_a_model():
    a = tiny_adapter("llama")
    q = query_prompt("Spain")
    base = first_token_logits(a, q)
    first_token_logits(a, q, lambda enc: [Patch(1, -1, torch.ones(a.hidden_size))])
    assert hooked_modules(a.model) == []
    def fail(h):
        raise ZeroDivisionError("inside the forward")

    with pytest.raises(ZeroDivisionError):
        first_token_logits(a, q, lambda enc: [Edit(1, lambda h: h), Edit(2, fail)])
    assert hooked_modules(a.model) == []
    assert torch.equal(first_token_logits(a, q), base)


def test_identity_edit_changes_nothing_exactly():
    a = tiny_adapter("llama")
    q = query_prompt("Spain")
    base = first_token_logits(a, q)
    for layer in range(a.n_layers + 1):
        assert torch.equal(first_token_logits(a, q, lambda enc, l=layer: [Edit(l, lambda h: h)]), base)
    moved = first_token_logits(a, q, lambda enc: [Edit(1, lambda h: h + 1.0)])
    assert not torch.equal(moved, base)
    with pytest.raises(PatchError, match="must return"):
        first_token_logits(a, q, lambda enc: [Edit(1, lambda h: h[:, :1])])
    assert hooked_modules(a.model) == []


def test_the_callers_objects_are_not_changed():
    m = Stack()
    vec = torch.randn(8)
    p = Patch(-1, torch.tensor([0, 3]), vec.clone(), mode="add", rows=torch.tensor([0, 1]))
    e = Edit(-2, lambda h: h * 2)
    c = Capture([-1], torch.tensor([[0]]).expand(2, 1))
    with intervene(m.layers, [p, e], [c]) as run:
        m(X)
    assert p.layer == -1 and e.layer == -2 and list(c.layers) == [-1]
    assert torch.equal(p.vector, vec) and p.position.tolist() == [0, 3] and p.rows.tolist() == [0, 1]
    assert run.requested == (3, 4) and set(c.store) == {-1}
    with pytest.raises(Exception):
        p.layer = 4  # frozen: normalised copies live inside intervene only


def test_bad_mode_calls_and_positions_are_typed_errors():
    v = torch.zeros(8)
    for bad in (lambda: Patch(1, 0, v, mode="overwrite"), lambda: Patch(1, 0, v, calls="prefill"),
                lambda: Patch(1, 0, v, calls=[-1]), lambda: Edit(1, lambda h: h, calls=set()),
                lambda: Edit(1, "not a function"), lambda: Capture([1], torch.tensor([[0]]), call=-1)):
        with pytest.raises(PatchError) as e:
            bad()
        assert isinstance(e.value, TaskvecError)
    m = Stack()
    for patch in (Patch(1, 5, v), Patch(1, -6, v), Patch(1, 0, v, rows=torch.tensor([2]))):
        with pytest.raises(PositionError, match="sequence|position|row"):
            with intervene(m.layers, [patch]):
                m(X)  # T = 5, B = 2
    with pytest.raises(PositionError):
        with intervene(m.layers, captures=[Capture([1], torch.tensor([[7], [0]]))]):
            m(X)
    assert hooked_modules(m) == []
    a = tiny_adapter("llama")
    with pytest.raises(PositionError, match="calls='first'"):  # a delimiter patch on every KV-cached step
        generate_scores(a, [Patch(1, int(a.encode([query_prompt("Spain")]).delimiters[0]), v.new_zeros(a.hidden_size),
                                  calls="all")])


def generate_scores(a, patches, n=3):
    enc = a.encode([query_prompt("Spain")])
    with torch.no_grad(), intervene(a.decoder_layers, patches) as run:
        out = a.model.generate(**enc.inputs, max_new_tokens=n, min_new_tokens=n, do_sample=False, output_logits=True,
                               return_dict_in_generate=True, pad_token_id=a.tokenizer.pad_token_id)
    return [s[0] for s in out.logits], out.sequences[0, enc.input_ids.shape[1]:].tolist(), run  # (V,) each


def test_first_patches_the_prefill_only_and_all_every_step():
    a = tiny_adapter("llama")
    h = torch.randn(a.hidden_size, generator=torch.Generator().manual_seed(3)) * 4  # (D,)
    layer = 1
    base, _, _ = generate_scores(a, [])
    first, toks, run_f = generate_scores(a, [Patch(layer, -1, h, mode="add", calls="first")])
    every, _, run_a = generate_scores(a, [Patch(layer, -1, h, mode="add", calls="all")])
    assert run_f.calls[layer] == run_a.calls[layer] == 3
    assert run_f.patched[layer] == [0] and run_a.patched[layer] == [0, 1, 2]
    assert not torch.equal(first[0], base[0])  # the prefill is patched
    assert torch.equal(first[0], every[0])  # same prefill
    assert not torch.equal(first[1], every[1])  # "all" patches the KV-cached steps too
    # "first": step 2 equals a full forward of prompt + token 1 patched at the prompt's last position only
    enc = a.encode([query_prompt("Spain")])
    ids = torch.cat([enc.input_ids, torch.tensor([toks[:1]])], 1)  # (1, T + 1)
    last = enc.input_ids.shape[1] - 1
    with torch.no_grad(), intervene(a.decoder_layers, [Patch(layer, last, h, mode="add")]):
        full = a.model(input_ids=ids, use_cache=False).logits[0, -1]  # (V,)
    torch.testing.assert_close(first[1], full, atol=2e-4, rtol=1e-4)
    assert not torch.allclose(first[1], base[1], atol=1e-3)  # the cache carries the patch
    assert hooked_modules(a.model) == []


def test_find_delimiter_without_colon_is_a_spec_error():
    a = tiny_adapter("llama")
    with pytest.raises(DelimiterError, match="The capital city of the country:") as e:
        a.encode([instruction_prompt("The capital city of the country")])
    assert isinstance(e.value, TaskvecError)
    with pytest.raises(TaskvecError):
        find_delimiter([1, 2, 3], lambda i: "word")


def _vector_whose_lens_is(a, token_id: int) -> torch.Tensor:
    """A residual whose logit lens' argmax is ``token_id`` (a few optimiser steps)."""
    h = (a.lm_head.weight[token_id].detach().clone() * 5).requires_grad_(True)  # (D,)
    opt = torch.optim.Adam([h], lr=0.1)
    for _ in range(300):
        with torch.enable_grad():
            loss = nn.functional.cross_entropy(a.lm_head(a.final_norm(h))[None], torch.tensor([token_id]))
            opt.zero_grad()
            loss.backward()
        opt.step()
        if int(a.lens(h.detach()).argmax()) == token_id:
            break
    assert int(a.lens(h.detach()).argmax()) == token_id
    return h.detach()


def test_generate_on_the_organism_survives_a_special_first_token():
    from taskvec.models import load_model

    a = load_model("organism")
    tok = a.tokenizer
    specials = special_ids(tok)
    assert set(tok.all_special_ids) <= specials and tok.convert_tokens_to_ids("<imgpatch>") in specials
    for sid in (tok.pad_token_id, tok.convert_tokens_to_ids("<imgpatch>")):
        h = _vector_whose_lens_is(a, sid)
        g = generate(a, query_prompt("Spain"), h, a.n_layers, max_new_tokens=1)
        assert g.token_ids == [sid] and g.text == ""
    assert decode_text(tok, sorted(specials)) == "" and decode_text(tok, []) == ""
    assert decode_text(tok, [len(tok), len(tok) + 3]) == ""  # ids past the vocabulary
    word = tok.convert_tokens_to_ids("Paris")
    assert decode_text(tok, [word, tok.pad_token_id]) == tok.decode([word], skip_special_tokens=True) == "Paris"
    assert a.decode_token(len(tok)) == ""  # no panic on an id past the tokenizer


def test_a_patch_of_one_position_in_every_row_equals_the_indexed_write():
    """The int-position shortcut (no index tensors) writes what the general per-row path writes."""
    m = Stack()
    v = torch.randn(8)
    for pos in (0, 3, -1, -5):
        for mode, scale in (("replace", 1.0), ("add", 1.0), ("add", -2.5)):
            with intervene(m.layers, [Patch(2, pos, v, mode=mode, scale=scale)]):
                short = m(X)
            rows = torch.arange(X.shape[0])
            with intervene(m.layers, [Patch(2, torch.full((2,), pos), v, mode=mode, scale=scale, rows=rows)]):
                general = m(X)
            assert torch.equal(short, general), (pos, mode, scale)
    for pos in (5, -6):  # out of range: the same typed error as ever
        with pytest.raises(PositionError, match="valid: -5..4"):
            with intervene(m.layers, [Patch(2, pos, v)]):
                m(X)
