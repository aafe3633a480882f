"""The guided tour: four one-click steps on the loaded model, each a sentence and a plot."""

from __future__ import annotations

from taskvec.plot import app_figures as F
from taskvec.analysis.compare import compare, suggested_layer
from taskvec.app.library import LibraryTask, entity_image, paper_tasks
from taskvec.analysis.views import VECTOR_KINDS, run_clusters, run_lens, split_pairs

STEPS = ("1. Few-shot prompt, image query", "2. Patched task vector", "3. Three phases", "4. Clusters")


def _capital() -> LibraryTask:
    return paper_tasks()[0]


def tour_step(adapter, step: str, progress=None):
    """(markdown, figure) for one tour step."""
    i = STEPS.index(step) if step in STEPS else 0
    warn = ("\n\n⚠️ *This model has random weights: the mechanics run, the answers mean nothing. "
            "Load `organism` to see the effect.*" if adapter.meaningless_weights else "")
    task, layer = _capital(), suggested_layer(adapter)
    if i in (0, 1):
        spec_pairs, held = split_pairs(task)
        x, y = held[0] if held else spec_pairs[-1]
        spec = task.text_spec(5)
        res = compare(adapter, spec, entity_image(task.domain, x), layer)
        g = res.prompt if i == 0 else res.patch
        if i == 0:
            text = (f"**Five text examples** (`{spec.pairs[0][0]} : {spec.pairs[0][1]}`, ...) are put in the prompt, "
                    f"then a **flag image** of {x} as the query. The model answers **{g.text or '∅'}** "
                    f"(expected {y}). In the paper, text examples in the prompt often fail to transfer to an image "
                    "query (Idefics2: 18% correct).")
        else:
            text = (f"Now the same text examples are turned into a **task vector** (the residual at the last ':' , "
                    f"averaged over example sets) and **patched at layer {layer}** into the image query alone. "
                    f"The model answers **{g.text or '∅'}** (expected {y}); with no context it said "
                    f"**{res.no_context.text or '∅'}**. In the paper, this text-to-image patch beats the prompt "
                    "(51% vs 18%): the task crosses from text to image.")
        return text + warn, F.topk_bar(g.top.tokens, g.top.probs, f"{STEPS[i][3:]}: top-5 first token", highlight=y)
    if i == 2:
        r = run_lens(adapter, task, "text examples", n_sets=20, progress=progress)
        peaks = r.phase.peak_layers()
        text = ("Reading the ':' residual with the **logit lens** at every layer: the paper finds the model's guess "
                "moving from the **input** (one fixed token; here the delimiter ':' itself) to the **task** (\"capital\") "
                "to the **answer** (the city). "
                "Lines: relative probability of the three tokens, mean ± std over 20 example sets. Peaks on this "
                "model: " + ", ".join(f"{k} at layer {v}" for k, v in peaks.items()) + ".")
        return text + warn, r.figures()[0]
    r = run_clusters(adapter, paper_tasks(), VECTOR_KINDS[:2], layer, "pca", n_sets=6, progress=progress)
    text = ("Task vectors from **text** (circles) and **image** (squares) examples of the six tasks, projected to 2-D. "
            + r.summary())
    return text + warn, r.figure()
