"""Issue 13, in process: the public mode's policy and every boundary a visitor can reach, each finding
reproduced and shown refused or answered clearly (the live-app counterpart: test_hostile.py)."""

import functools
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
    with pytest.raises(LayerError, match="residual layers 0..%d. The model was switched" % vlm.n_layers):
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
        with pytest.raises(gr.Error, match="Layer 30 is out of range.*they follow it now: pick a layer in 0..3"):
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


def test_configure_sets_the_launch_bounds(monkeypatch):
    monkeypatch.setattr(exports, "KEEP", exports.Keep())
    public = common.configure(True, ["organism"], [])
    try:
        assert public["queue"]["max_size"] == 16 and public["launch"]["max_file_size"] == "10mb"
        assert public["launch"]["show_error"] is False and public["delete_cache"] == (600, 3600)
        assert common.HOST.allowed == ("organism",) and exports.KEEP.max_dirs == 50
        assert common.HOST.time_limit == 120  # public: a request's work is bounded by default ...
        common.configure(True, ["organism"], [], time_limit=30)
        assert common.HOST.time_limit == 30
        common.configure(True, ["organism"], [], time_limit=0)
        assert common.HOST.time_limit is None  # ... unless the operator turns it off
        with pytest.raises(ValueError, match="seconds >= 0"):
            common.configure(True, [], [], time_limit=float("nan"))
    finally:
        local = common.configure(False)
    assert local["queue"] == {} and local["launch"]["show_error"] and not common.HOST.public
    assert common.HOST.time_limit is None  # locally: no limit unless given


def test_a_decompression_bomb_is_refused_by_its_header(tmp_path):
    p = tmp_path / "bomb.png"
    Image.new("1", (20_000, 20_000)).save(p)  # a few kB on disk, 400 MP
    with pytest.raises(ImageError, match="over the limit|more pixels than the limit"):
        load_image(p)


# --- per-request time limit: a cooperative deadline checked between steps ---------------------------

def _hooks(adapter) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in adapter.model.modules())


def test_a_request_past_the_time_limit_stops_between_steps_and_leaves_nothing_patched(public, vlm):
    from taskvec.app import ui

    calls = []

    def progress(p, desc=None, **kw):  # what gr.Progress receives
        calls.append((p, desc))

    args = ({}, "country-capital", "text examples", "text", 3, "", None, "", False)
    public.configure(True, [], [], time_limit=1e-3)
    state = {}
    with pytest.raises(gr.Error, match=r"ran past this app's limit of 0\.001 s per request and was stopped "
                                       r"(before its first step|after step [12] of 3) \(scoring queries\); nothing "
                                       r"was changed\. Ask for less work: fewer example sets \(K\)") as e:
        ui.run_sweep(state, *args[1:], progress=progress)
    assert e.value.duration == common.ERROR_SECONDS
    assert _hooks(vlm) == 0 and not state.get("sweeps")  # nothing left patched, no partial result kept
    for call in (lambda: ui.run_summaries({}, ["country-capital", "food-color"], 1, 3, progress=None),
                 lambda: ui.run_lens({}, "food-color", "text examples", 3, 2, 0, "", 3, False, progress=None),
                 lambda: ui.run_patch({}, "text examples", EXAMPLES, [], "", "", "Germany", None, "", 1, False, False,
                                      1, 1, 1, "", None, 3, False, progress=None)):
        with pytest.raises(gr.Error, match="ran past this app's limit of 0.001 s"):  # also without a progress bar
            call()
        assert _hooks(vlm) == 0
    # with room to finish, the same request runs as it does without a limit, its progress bar fed as before
    public.configure(True, [], [], time_limit=120)
    fig, _ = ui.run_sweep(*args, progress=progress)
    public.configure(False)
    ref, _ = ui.run_sweep(*args, progress=None)
    assert [(p, d) for p, d in calls] == [((i, 3), "Scoring queries") for i in (1, 2, 3)]
    assert [list(t.y) for t in fig.data] == [list(t.y) for t in ref.data]


def test_the_deadline_is_per_request_and_waiting_for_the_model_is_not_counted(monkeypatch):
    import threading
    import types
    from concurrent.futures import ThreadPoolExecutor

    from taskvec.app import session as S
    from taskvec.errors import TimeLimitError

    clock = [1000.0]  # the session's clock, advanced explicitly: no wall-clock timing (a busy machine)
    monkeypatch.setattr(S, "time", types.SimpleNamespace(monotonic=lambda: clock[0], sleep=time.sleep))

    def tick(seconds):
        clock[0] += seconds

    held, release = threading.Event(), threading.Event()

    def other_request():  # holds the model for a while, as another session's computation does
        with S.MODEL_LOCK:
            held.set()
            release.wait(5)

    with S.time_limit(0.3):
        t = threading.Thread(target=other_request)
        t.start()
        held.wait(5)
        threading.Timer(0.1, lambda: (tick(0.6), release.set())).start()
        with S.model_lock():  # waits 0.6 s for the other request: not this request's work
            S.check_deadline((1, 5), "Task vectors")
        t.join()
        with S.time_limit(100):  # a nested block keeps the request's deadline
            tick(0.35)
            with pytest.raises(TimeLimitError, match="limit of 0.3 s .* after step 2 of 5 \\(task vectors\\)"):
                S.check_deadline((2, 5), "Task vectors")
            with ThreadPoolExecutor(1) as pool:  # another request (its own context) has no such deadline
                assert pool.submit(S.check_deadline).result() is None
    S.check_deadline()  # and outside the request, nothing is limited


def test_a_streaming_view_has_one_budget_for_all_its_steps(public, monkeypatch):
    """A generator handler (a view that refines step by step): Gradio runs each ``next()`` on its own, in a fresh
    context; the request's one deadline still holds across the steps, and a step can be stopped halfway."""
    import contextvars
    import types

    from taskvec.app import session as S

    clock = [1000.0]  # the session's clock, advanced by the steps: no wall-clock timing (a busy machine)
    monkeypatch.setattr(S, "time", types.SimpleNamespace(monotonic=lambda: clock[0], sleep=time.sleep))

    def steps(n, progress=gr.Progress()):
        for i in range(n):
            clock[0] += 0.4
            progress((i + 1, n), desc="Forward passes")
            yield i

    public.configure(True, [], [], time_limit=1.0)
    stream = common.guard(steps)(6)  # 2.4 s in all: each step alone is well inside the limit
    step = functools.partial(next, stream)  # Gradio calls next() once per step; guard converts each step's errors
    done = []
    with pytest.raises(gr.Error, match=r"limit of 1 s .* after step 3 of 6 \(forward passes\)"):
        while True:
            done.append(contextvars.Context().run(step))  # a fresh context per step, as Gradio's
    assert done == [0, 1]  # 0.8 s after two steps; the third crosses 1 s
    public.configure(False)
    assert list(common.guard(steps)(3)) == [0, 1, 2]  # no limit locally
    assert S._DEADLINE.get() is None


# --- images: the query image reaches the app's converter as uploaded --------------------------------

def _image_files(d: Path) -> dict:
    Image.new("RGBA", (40, 30), (0, 0, 255, 0)).save(d / "clear.png")
    Image.fromarray((np.arange(32 * 32, dtype=np.uint16).reshape(32, 32) * 60)).save(d / "deep.png")
    frames = [color_image(i) for i in range(3)]
    frames[0].save(d / "anim.gif", save_all=True, append_images=frames[1:])
    (d / "fake.png").write_text("just text, renamed")
    return {"clear.png": "transparent pixels: composited over white", "deep.png": "16-bit image: scaled to 8 bits",
            "anim.gif": "animated image (3 frames): used the first frame"}


def test_the_query_image_is_converted_by_the_app_and_says_so(tmp_path, monkeypatch):
    from gradio.components.image import ImageData

    expected = _image_files(tmp_path)
    said = []
    monkeypatch.setattr(gr, "Info", lambda msg, **kw: said.append(msg))
    upload = inputs.image_upload(label="query")
    for name, note in expected.items():
        p = tmp_path / name
        before = p.read_bytes()
        got = upload.preprocess(ImageData(path=str(p), orig_name=name))
        assert got == str(p) and Path(got).read_bytes() == before  # the original file, not Gradio's RGB copy
        im = inputs.query("", got)
        assert im.mode == "RGB" and said[-1] == f"The query image was converted: {note}."
    assert inputs.query("", upload.preprocess(ImageData(path=str(tmp_path / "clear.png")))).getpixel((0, 0)) == \
        (255, 255, 255)
    # a text file named .png: the app's own message, by the file's name, no server path
    fake = upload.preprocess(ImageData(path=str(tmp_path / "fake.png"), orig_name="fake.png"))
    with pytest.raises(ImageError, match=r"The query image: fake.png is not a readable image") as e:
        inputs.query("", fake)
    assert str(tmp_path) not in str(e.value)
    n = len(said)
    inputs.query("", str(tmp_path / "clear.png"))
    assert len(said) == n + 1
    color_image(1).save(tmp_path / "plain.png")
    inputs.query("", str(tmp_path / "plain.png"))
    assert len(said) == n + 1  # nothing converted: nothing said


def test_every_query_image_of_the_page_hands_over_the_original_file(vlm, monkeypatch, tmp_path):
    from taskvec.app import ui

    monkeypatch.setattr(ui.HOST, "adapter", vlm)
    demo = ui.build()
    fed = {id(c): c for bf in demo.fns.values() for c in bf.inputs}
    images = [c for c in fed.values() if isinstance(c, gr.Image)]
    assert len(images) >= 2 and all(getattr(c, "_taskvec_upload", False) for c in images)
    assert all(c.type == "filepath" and c.image_mode is None and c.get_block_name() == "image" for c in images)
    _image_files(tmp_path)
    with pytest.raises(gr.Error, match="The query image: fake.png is not a readable image") as e:
        ui.run_sweep({}, "country-capital", "text examples", "image", 2, "", str(tmp_path / "fake.png"), "Paris",
                     False, progress=None)
    assert str(tmp_path) not in e.value.message


def test_the_picker_says_what_a_visitor_may_load(vlm, monkeypatch):
    from taskvec.app import ui

    monkeypatch.setattr(ui.HOST, "adapter", vlm)
    picker = lambda demo: next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "model-picker")
    local = picker(ui.build())
    assert "HF id, local folder" in local.label and local.allow_custom_value
    ui.HOST.configure(True, ["tiny-random/llama"], [])
    try:
        public = picker(ui.build())
    finally:
        ui.HOST.configure(False)
    assert "HF id" not in public.label and "local folder" not in public.label
    assert "only the models its operator allows" in public.label and "own machine" in public.info
    assert [c[1] for c in public.choices] == [vlm.model_id, "tiny-random/llama"]


# --- M4: after another session switches the model, this page follows on its next request ----------

def test_a_stale_session_follows_the_switch_on_its_next_request(vlm, monkeypatch):
    import copy

    from taskvec.analysis.compare import suggested_layer
    from taskvec.app import ui

    monkeypatch.setattr(ui.HOST, "adapter", vlm)
    monkeypatch.setattr(ui.HOST, "verify", False)
    ui.HOST.configure(True, [vlm.model_id, "tiny-random/smolvlm"], [])
    said = []
    monkeypatch.setattr(gr, "Info", lambda msg, **kw: said.append(msg))
    try:
        demo = ui.build()
        fns = list(demo.fns.values())
        name = lambda bf: getattr(bf.fn, "__name__", "")
        sliders = [b for b in demo.blocks.values()
                   if isinstance(b, gr.Slider) and common.LAYER_SLIDER in (b.elem_classes or [])]
        runs = [bf for bf in fns if bf.concurrency_id in ("model", "heavy") and bf.api_name != "load_model"]
        followers = [bf for bf in fns if name(bf) == "follow_model"]
        assert len(sliders) >= 4 and len(runs) >= 7  # patch, sweep, lens, summaries, clusters, similarity, tour
        # every model event is followed (also when it failed) by the check, which updates every layer slider
        for run in runs:
            after = [f for f in followers if f.trigger_after == run._id]
            assert len(after) == 1 and not after[0].trigger_only_on_success, run.api_name
            assert set(map(id, sliders)) <= set(map(id, after[0].outputs))
        follow = next(f for f in followers if f.trigger_after is not None).fn
        on_load = next(f for f in followers if f.trigger_after is None).fn
        loader = next(bf for bf in fns if bf.api_name == "load_model").fn
        stamp = next(bf for bf in fns if name(bf) == "stamp").fn
        state = next(b for b in demo.blocks.values() if isinstance(b, gr.State))
        a, b = copy.deepcopy(state.value), copy.deepcopy(state.value)  # two open pages
        a, b = on_load(a)[0], on_load(b)[0]
        assert a["model"] == b["model"] == vlm.model_id and all(u == gr.skip() for u in follow(a))

        banner, *updates = loader("tiny-random/smolvlm", progress=None)  # page B switches the model
        b = stamp(b)
        other = ui.HOST.adapter
        assert other.n_layers == 2 and all(u.maximum == 2 for u in updates)
        assert all(u == gr.skip() for u in follow(b))  # B's page is already on it

        with pytest.raises(gr.Error, match="Layer 3 is out of range"):  # A's slider still says 3 (0..3)
            ui.run_summaries(a, ["country-capital"], 3, 3, progress=None)
        a2, banner, picker, *layers = follow(a)  # ... and the failed request is followed by the update
        assert a2["model"] == "tiny-random/smolvlm" and "`tiny-random/smolvlm`" in banner
        assert picker.value == "tiny-random/smolvlm"
        assert len(layers) == len(sliders) and all(s.maximum == 2 and s.value == suggested_layer(other) for s in layers)
        assert "switched to tiny-random/smolvlm" in said[-1] and "0–2" in said[-1]
        n = len(said)
        assert all(u == gr.skip() for u in follow(a2)) and len(said) == n  # once only
        table, _ = ui.run_summaries(a2, ["country-capital"], layers[0].value, 3, progress=None)  # A runs again
        assert table.value["data"]
    finally:
        ui.HOST.configure(False)


def test_the_app_writes_nothing_into_its_own_package():
    """gradio writes a .pyi stub beside the module of every Component subclass at import; the app
    defines none, so an installed (read-only) package stays as shipped."""
    import taskvec
    from taskvec.app import ui  # noqa: F401  (builds every tab module)

    root = Path(taskvec.__file__).parent
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*.pyi")) == []
