"""Issue 13, in process: the public mode's policy and every boundary a visitor can reach, each finding
reproduced and shown refused or answered clearly (the live-app counterpart: test_hostile.py)."""

import logging
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from taskvec.errors import ImageError, LayerError, ModelLoadError, SpecError, VectorShapeError
from taskvec.testing import color_image, tiny_adapter

gr = pytest.importorskip("gradio")
from taskvec.app import common, exports, inputs, library  # noqa: E402
from taskvec.app.host import ModelHost, md_text, model_choices  # noqa: E402
from taskvec.core.vectors import TaskVector  # noqa: E402
from taskvec.data.imageio import NOTE_KEY, load_image, resize_width  # noqa: E402

EXAMPLES = "France : Paris\nItaly : Rome\nSpain : Madrid\nJapan : Tokyo"


@pytest.fixture(scope="module")
def vlm():
    return tiny_adapter("idefics3")


@pytest.fixture
def public(vlm, monkeypatch):
    """common.HOST in public mode on the tiny VLM, allow-list: the tiny llama only."""
    host = common.HOST
    monkeypatch.setattr(host, "adapter", vlm)
    monkeypatch.setattr(host, "error", "")
    host.configure(True, ["tiny-random/llama"], [])
    yield host
    host.configure(False)


# --- H1 / H2 / M1: the model, the banner, source models ------------------------------------------

def test_public_load_refuses_anything_off_the_allow_list_and_never_writes_the_banner(vlm):
    host = ModelHost(adapter=vlm)
    host.configure(True, ["tiny-random/llama"])
    evil = "[click me](http://evil.example) ![x](http://evil.example/a.png) <img src=x onerror=alert(1)>"
    for name in (evil, "/etc", "/no/such/folder", "HuggingFaceM4/idefics2-8b", "x" * 100_000):
        mine = host.load(name)
        refusal = "at most 200 characters" if len(name) > 200 else "operator allows: tiny-random/llama"
        assert host.adapter is vlm and refusal in mine
        assert "evil" not in mine and "/etc" not in mine and len(mine) < 2_000
        assert "failed" not in host.banner() and "evil" not in host.banner()  # what every other visitor sees
    # a folder that exists and one that does not get the same answer: nothing is revealed
    assert host.load("/etc") == host.load("/no/such/folder")
    assert model_choices(host) == [vlm.model_id, "tiny-random/llama"]
    assert host.load("tiny-random/llama").startswith("**Loaded:** `tiny-random/llama`") and host.adapter.family != vlm.family


def test_local_mode_banner_escapes_and_bounds_a_typed_name(vlm):
    host = ModelHost(adapter=vlm)
    evil = "[click me](http://evil.example) ![x](http://evil.example/a.png) <b>bold</b>" + "y" * 100_000
    banner = host.load(evil)
    assert "failed" in banner and "Still using" in banner and len(banner) < 2_500
    assert "](http" not in banner and "<b>" not in banner and "![" not in banner
    assert md_text("a`b*c<d>") == "a\\`b\\*c&lt;d&gt;"


def test_source_models_are_allow_listed_and_a_wrong_width_never_stays_loaded(vlm):
    host = ModelHost(adapter=vlm)
    host.configure(True, [], [])
    with pytest.raises(ModelLoadError, match="no other source model"):
        host.source("HuggingFaceTB/SmolLM2-135M-Instruct")
    host.configure(True, [], ["tiny-random/qwen2_vl"])
    other = tiny_adapter("qwen2_vl")
    if other.hidden_size != vlm.hidden_size:
        with pytest.raises(VectorShapeError, match="hidden size"):
            host.source("tiny-random/qwen2_vl")
        assert host._source is None
    assert host.source("") is vlm and host.source(vlm.model_id) is vlm


def test_operator_start_model_is_never_refused():
    host = ModelHost()
    host.configure(True, [])
    assert host.load("tiny-random/llama", operator=True).startswith("**Loaded:**")
    assert "no other model" in host.load("tiny-random/idefics3") and host.adapter.model_id == "tiny-random/llama"


# --- H3 and the Low image items: bounds before any resize, explicit conversion ------------------

def test_a_tiny_file_with_an_extreme_aspect_ratio_is_refused_before_any_resize(tmp_path):
    p = tmp_path / "strip.png"
    Image.new("RGB", (1, 20_000)).save(p)
    assert p.stat().st_size < 2_000
    with pytest.raises(ImageError, match="aspect ratio of 20000:1"):
        load_image(p)
    with pytest.raises(ImageError, match="aspect ratio"):
        resize_width(Image.new("RGB", (1, 20_000)))
    with pytest.raises(ImageError, match="query image: strip.png .* aspect ratio") as e:
        inputs.read_image(str(p), "query image")
    assert str(tmp_path) not in str(e.value)  # no server path in the message
    assert resize_width(Image.new("RGB", (600, 300))).size == (224, 112)


def test_16bit_alpha_and_animated_images_are_converted_and_say_so(tmp_path):
    a = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16)  # 0..65520: clipping would make it white
    Image.fromarray(a).save(tmp_path / "deep.png")
    im = load_image(tmp_path / "deep.png")
    assert im.mode == "RGB" and "16-bit" in im.info[NOTE_KEY] and len(np.unique(np.asarray(im))) > 100
    rgba = Image.new("RGBA", (40, 30), (255, 0, 0, 0))
    rgba.save(tmp_path / "clear.png")
    im = load_image(tmp_path / "clear.png")
    assert im.getpixel((0, 0)) == (255, 255, 255) and "transparent" in im.info[NOTE_KEY]
    frames = [color_image(i) for i in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    im = inputs.read_image(str(tmp_path / "anim.gif"), "query image")
    assert "first frame" in im.info[NOTE_KEY] and inputs.image_notes(im) == [im.info[NOTE_KEY]]
    color_image(0).save(tmp_path / "plain.png")
    assert NOTE_KEY not in load_image(tmp_path / "plain.png").info
    (tmp_path / "fake.png").write_text("not an image")
    with pytest.raises(ImageError, match="fake.png is not a readable image"):
        inputs.read_image(str(tmp_path / "fake.png"))


def test_playground_notes_a_converted_query_image(vlm, tmp_path):
    from taskvec.app import playground as PG

    Image.new("RGBA", (40, 30), (0, 0, 255, 128)).save(tmp_path / "half.png")
    res = PG.run_playground(vlm, PG.PlayRequest(examples=EXAMPLES, query_image=str(tmp_path / "half.png"), n_sets=2))
    assert any("query image was converted: transparent pixels" in n for n in res.notes)


# --- M2 / M3: vectors in every form the loader accepts, or a clear refusal -------------------------

def _vec(vlm, **extra):
    L, D = vlm.n_layers, vlm.hidden_size
    return {"vectors": torch.randn(L + 1, D), **extra}


def test_vector_files_standard_metadata_vectors_only_and_non_finite(vlm, tmp_path):
    save_file(_vec(vlm), str(tmp_path / "pt.safetensors"), metadata={"format": "pt"})
    v = inputs.read_vector(str(tmp_path / "pt.safetensors"))
    assert v.meta == {"format": "pt"} and v.per_set.shape == (1, vlm.n_layers + 1, vlm.hidden_size)
    v.save(tmp_path / "again.safetensors", 1)  # a vectors-only file exports again (no shared memory)
    assert TaskVector.load(tmp_path / "again.safetensors").meta["layer"] == 1
    bad = _vec(vlm)
    bad["vectors"][1, 3] = float("nan")
    save_file(bad, str(tmp_path / "nan.safetensors"))
    with pytest.raises(VectorShapeError, match="1 non-finite value"):
        inputs.read_vector(str(tmp_path / "nan.safetensors"))
    save_file({"weights": torch.zeros(3)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(VectorShapeError, match="no 'vectors' tensor \\(found: weights\\)"):
        inputs.read_vector(str(tmp_path / "other.safetensors"))
    save_file({"vectors": torch.zeros(4)}, str(tmp_path / "flat.safetensors"))
    with pytest.raises(VectorShapeError, match="uploaded vector: Task vectors are"):
        inputs.read_vector(str(tmp_path / "flat.safetensors"))


def test_ensemble_weights_must_be_finite_and_bounded():
    for w in (1e308, float("inf"), float("nan"), -1):
        with pytest.raises(SpecError, match="between 0 and 1e\\+06"):
            inputs.build_ensemble((w, 1, 1), EXAMPLES, instruction="The capital city of the country:")
    assert inputs.build_ensemble((1e6, 1, 0), EXAMPLES).weights == (1e6,)


def test_many_malformed_lines_give_a_short_message():
    with pytest.raises(SpecError, match="5000 example lines") as e:
        inputs.text_examples("no separator here\n" * 5000)
    assert len(str(e.value)) < 200
    with pytest.raises(SpecError, match="5000 example lines"):
        library.user_task("big", "x\n" * 5000)
    with pytest.raises(SpecError, match="at most 60 characters"):
        library.user_task("n" * 61, EXAMPLES)


# --- the guard: panics, API junk, bounded messages, tracebacks only for the unexpected -------------

class PanicException(BaseException):
    """What pyo3 raises when Rust code (a tokenizer) panics: not an Exception."""


def test_guard_turns_a_tokenizer_panic_into_a_clear_message():
    @common.guard
    def handler(text):
        raise PanicException("called `Option::unwrap()` on a `None` value")

    with pytest.raises(gr.Error, match="tokenizer or a native library failed on this input \\(PanicException\\)"):
        handler("x")


def test_guard_refuses_api_junk_by_parameter_name():
    @common.guard
    def handler(query, layer, names):
        return "ran"

    with pytest.raises(gr.Error, match="'query' holds an invalid character at position 3"):
        handler("Ger\ud800many", 1, [])
    with pytest.raises(gr.Error, match="'layer' must be a finite number; got nan"):
        handler("x", float("nan"), [])
    with pytest.raises(gr.Error, match="'names' has 60,001 characters"):
        handler("x", 1, ["y" * 60_001])
    assert handler("x", 1, ["a"]) == "ran"


def test_guard_bounds_messages_hides_paths_in_public_mode_and_logs_tracebacks_only_when_unexpected(public, caplog):
    @common.guard
    def user_mistake():
        raise SpecError("Malformed examples — " + "; ".join(f"line {i}: 'x' has no separator" for i in range(5000)))

    @common.guard
    def bug():
        raise IndexError(f"index 9 at {Path(__file__).resolve()}")

    with caplog.at_level(logging.INFO, logger="taskvec.app"):
        with pytest.raises(gr.Error) as e:
            user_mistake()
        assert len(e.value.message) < 1_000 and "more characters" in e.value.message and not e.value.print_exception
        assert not caplog.records
        with pytest.raises(gr.Error, match="Unexpected error \\(IndexError\\)\\. It was logged") as e:
            bug()
        assert "/" not in e.value.message  # public: no exception text, no path
        assert caplog.records and caplog.records[0].exc_info
    with pytest.raises(gr.Error) as e:
        common.guard(lambda: (_ for _ in ()).throw(SpecError("<b>x</b>")))()
    assert "&lt;b&gt;" in e.value.message  # the error modal renders HTML: typed text stays text


def test_layer_of_names_the_model_and_says_to_reload(vlm):
    assert common.layer_of(2.0, vlm) == 2
    with pytest.raises(LayerError, match="residual layers 0..%d. If the model was switched" % vlm.n_layers):
        common.layer_of(99, vlm)
    with pytest.raises(LayerError, match="whole number"):
        common.layer_of(float("nan"), vlm)
    with pytest.raises(LayerError, match="whole number"):
        common.layer_of("abc", vlm)


def test_stale_layers_in_every_tab_are_clear_errors(vlm, monkeypatch):
    from taskvec.app import ui

    monkeypatch.setattr(ui.HOST, "adapter", vlm)
    for call in (lambda: ui.run_summaries({}, ["country-capital"], 30, 3, progress=None),
                 lambda: ui.run_similarity({}, ["country-capital"], ["text examples"], 30, "", False, False, progress=None),
                 lambda: ui.run_clusters({}, ["country-capital", "food-color"], ["text examples"], 30, "pca",
                                         "task vectors", 2, False, progress=None)):
        with pytest.raises(gr.Error, match="Layer 30 is out of range.*reload the page"):
            call()


def test_public_caps_heavy_settings(public):
    assert common.capped(100, "n_queries", "test queries") == common.PUBLIC_CAPS["n_queries"]
    assert common.capped(3, "n_queries", "test queries") == 3
    with pytest.raises(SpecError, match="at least 1"):
        common.capped(float("nan"), "n_sets", "example sets")
    public.configure(False)
    assert common.capped(100, "n_queries", "test queries") == 100


def test_public_mode_is_on_for_a_space(monkeypatch):
    monkeypatch.delenv("TASKVEC_PUBLIC", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert not common.is_public() and common.is_public(True)
    monkeypatch.setenv("SPACE_ID", "someone/taskvec")
    assert common.is_public()
    monkeypatch.setenv("TASKVEC_PUBLIC", "0")
    assert not common.is_public()
    assert common.split_names(" organism, tiny-random/llama ,,") == ["organism", "tiny-random/llama"]


# --- H4: exports small and swept -----------------------------------------------------------------

def test_exports_share_one_plotly_js_and_old_folders_are_swept(tmp_path):
    from taskvec import plot as P

    fig = P.cosine_heatmap([[1, 0.5], [0.5, 1]], ["a", "b"], "t")
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    pa, ja = exports.write_figures(a, {"cos": fig})
    pb, jb = exports.write_figures(b, {"cos": fig})
    assert pa.stat().st_size < 100_000 and os.path.samefile(ja, jb) or ja.read_bytes() == jb.read_bytes()
    root = tmp_path / "root"
    for i in range(8):
        d = root / f"d{i}"
        d.mkdir(parents=True)
        os.utime(d, (time.time() - 100 * i, time.time() - 100 * i))
    assert exports.sweep(root, exports.Keep(max_age=450, max_dirs=3)) == 5
    assert sorted(p.name for p in root.iterdir()) == ["d0", "d1", "d2"]


def test_session_tasks_are_bounded(vlm, monkeypatch):
    from taskvec.app.tabs.summaries import add_task

    monkeypatch.setattr(common.HOST, "adapter", vlm)
    state = {"user_tasks": [library.user_task(f"t{i}", EXAMPLES) for i in range(library.MAX_USER_TASKS)]}
    with pytest.raises(gr.Error, match=f"holds {library.MAX_USER_TASKS} tasks"):
        add_task(state, "one-more", EXAMPLES, "", "")


def test_a_new_session_gets_the_loaded_models_layer_range(vlm, monkeypatch):
    from taskvec.app import ui

    monkeypatch.setattr(ui.HOST, "adapter", vlm)
    demo = ui.build()
    sliders = common.session_refresh(demo)
    assert len(sliders) >= 4  # every tab's layer slider is tagged
    refresh = next(b.fn for b in demo.fns.values() if getattr(b.fn, "__name__", "") == "refresh")
    monkeypatch.setattr(ui.HOST, "adapter", tiny_adapter("llama"))  # the operator switched: 4 layers, not 3
    updates = refresh()
    assert len(updates) == len(sliders) and all(u.maximum == 4 for u in updates)


def test_configure_sets_the_launch_bounds(monkeypatch):
    monkeypatch.setattr(exports, "KEEP", exports.Keep())
    public = common.configure(True, ["organism"], [])
    try:
        assert public["queue"]["max_size"] == 16 and public["launch"]["max_file_size"] == "10mb"
        assert public["launch"]["show_error"] is False and public["delete_cache"] == (600, 3600)
        assert common.HOST.allowed == ("organism",) and exports.KEEP.max_dirs == 50
    finally:
        local = common.configure(False)
    assert local["queue"] == {} and local["launch"]["show_error"] and not common.HOST.public


def test_a_decompression_bomb_is_refused_by_its_header(tmp_path):
    p = tmp_path / "bomb.png"
    Image.new("1", (20_000, 20_000)).save(p)  # a few kB on disk, 400 MP
    with pytest.raises(ImageError, match="over the limit|more pixels than the limit"):
        load_image(p)
