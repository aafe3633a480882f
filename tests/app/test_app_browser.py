"""End to end: `python app.py` as a subprocess, driven by Debian's Chromium (Playwright) and by gradio_client."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from taskvec.testing.live import live_app, screenshot_dir

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SHOTS = screenshot_dir()  # a temp folder; TASKVEC_SCREENSHOTS=docs refreshes docs/screenshots
EXAMPLES = "France : Paris\nItaly : Rome\nSpain : Madrid\nJapan : Tokyo"


PATCH = dict(kind="text examples", examples=EXAMPLES, image_files=[], image_answers="", instruction="",
             query_text="", query_image=None, expected="", layer=1, override=False, ensemble=False, w_text=1,
             w_image=1, w_instr=1, source="", vector_file=None, n_sets=2, png=False)


@pytest.fixture(scope="module")
def app_url():
    with live_app(["--model", "tiny-random/idefics3"]) as app:
        yield app.url


@pytest.fixture
def flag():
    p = ROOT / "examples" / "flags" / "Austria.png"
    if not p.is_file():
        pytest.skip("examples/flags/Austria.png is missing")
    return p


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing: apt-get install -y chromium")
def test_browser_patch_playground(app_url, flag):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(app_url, wait_until="domcontentloaded")
            page.locator("#run-patch").wait_for(timeout=30_000)
            assert "Random weights" in page.locator("#model-banner").inner_text()
            page.locator("#examples textarea").fill(EXAMPLES)
            page.locator("#query-text textarea").fill("")
            page.locator("#expected textarea").fill("Vienna")
            page.locator("#query-image input[type=file]").set_input_files(str(flag))
            page.locator("#query-image img").first.wait_for(timeout=15_000)
            page.locator("#run-patch").click()
            answers = page.locator("#outputs .method-answer", has_text="Answer:")
            answers.nth(2).wait_for(timeout=45_000)
            text = page.locator("#outputs").inner_text()
            assert all(t in text for t in ("No Context", "Prompt", "Patch"))
            page.locator("#outputs .js-plotly-plot").nth(2).wait_for(timeout=15_000)
            page.wait_for_timeout(500)
            page.screenshot(path=str(SHOTS / "playground.png"), full_page=True)
            # a malformed line is reported with its line number, and the page stays usable
            page.locator("#examples textarea").fill("France Paris\nItaly : Rome")
            page.locator("#run-patch").click()
            page.get_by_text("Malformed examples — line 1", exact=False).first.wait_for(timeout=30_000)
            page.wait_for_timeout(1000)  # let the error toast finish fading in
            page.screenshot(path=str(SHOTS / "bad-input.png"))
        finally:
            browser.close()


def test_gradio_client_api(app_url, flag):
    from gradio_client import Client, handle_file

    client = Client(app_url, verbose=False)
    out = client.predict(**{**PATCH, "query_image": handle_file(str(flag)), "expected": "Vienna"}, api_name="/patch")
    assert [o.splitlines()[0] for o in out[:3]] == ["### No Context", "### Prompt", "### Patch"]
    assert all(("✓ correct" in o) != ("✗ wrong (expected `Vienna`)" in o) for o in out[:3])
    assert "layer **1**" in out[-2]
    saved = [str(f) for f in out[-1] if str(f).endswith(".safetensors")][0]
    # the exported vector uploads back and patches the same answer, with no examples typed
    again = client.predict(**{**PATCH, "examples": "", "query_image": handle_file(str(flag)),
                              "vector_file": handle_file(saved)}, api_name="/patch")
    assert again[2].split("**Answer:**")[1] == out[2].split("**Answer:**")[1].split(" ✗")[0].split(" ✓")[0]
    assert "uploaded vector" in again[-2]
    with pytest.raises(Exception, match="query is empty"):
        client.predict(**PATCH, api_name="/patch")
    # two sessions at once: each gets its own result (one model queue, no shared per-request state)
    def ask(q):
        return Client(app_url, verbose=False).predict(**{**PATCH, "query_text": q}, api_name="/patch")[-2]
    with ThreadPoolExecutor(2) as pool:
        notes = list(pool.map(ask, ["Germany", "Portugal"]))
    assert "`Germany`" in notes[0] and "`Portugal`" in notes[1]
    banner = client.predict("no-such-org/no-such-model-xyz", api_name="/load_model")[0]
    assert "failed" in banner and "Still using" in banner
    assert "tiny-random/idefics3" in client.predict(api_name="/model_info")
