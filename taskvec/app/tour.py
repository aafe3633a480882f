"""The guided tour: four one-click steps on the loaded model, each a sentence and a plot."""

from __future__ import annotations

from taskvec import plot as P
from taskvec.analysis.compare import compare, suggested_layer
from taskvec.analysis.clusters import clusters
from taskvec.analysis.phases import phases
from taskvec.analysis.protocol import correct, spec_for
from taskvec.app.library import paper_tasks
from taskvec.data.tasks import TaskData

STEPS = ("1. Few-shot prompt, image query", "2. Patched task vector", "3. Three phases", "4. Clusters")


def _capital() -> TaskData:
    return paper_tasks()[0]


def tour_step(adapter, step: str, progress=None):
    """(markdown, figure) for one tour step."""
    i = STEPS.index(step) if step in STEPS else 0
    warn = ("\n\n⚠️ *This model has random weights: the mechanics run, the answers mean nothing. "
            "Load `organism` to see the effect.*" if adapter.meaningless_weights else "")
    task, layer = _capital(), suggested_layer(adapter)
    if i in (0, 1):
        item = task.split("test")[0]
        x, y = item.input, item.answer
        spec = spec_for(task, "text", task.split("val")[:5])
        res = compare(adapter, spec, task.image(item), layer)
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
        return text + warn, P.topk_bar(g.top.tokens, g.top.probs, f"{STEPS[i][3:]}: top-{len(g.top.tokens)} first token",
                                       correct=[correct(t, y, "text") for t in g.top.tokens])
    if i == 2:
        r = phases(adapter, task, "text", n_sets=20)
        peaks = r.curve.peak_layers()
        text = ("Reading the ':' residual with the **logit lens** at every layer: the paper finds the model's guess "
                "moving from the **input** (one fixed token; here the delimiter ':' itself) to the **task** (\"capital\") "
                "to the **answer** (the city). "
                "Lines: relative probability of the three tokens, mean ± std over 20 example sets. Peaks on this "
                "model: " + ", ".join(f"{k} at layer {v}" for k, v in peaks.items()) + ".")
        ph = r.curve
        return text + warn, P.phase_figure(ph.mean.numpy(), ph.std.numpy(), ph.tokens, ph.labels,
                                           f"{STEPS[i][3:]}: {r.task} (text examples)", n_runs=ph.per_run.shape[0])
    r = clusters(adapter, paper_tasks(), layer, ("text", "image"), "pca", n_sets=6)
    text = ("Task vectors from **text** (circles) and **image** (squares) examples of the six tasks, projected to 2-D. "
            + r.summary())
    axes = tuple(f"PC {i + 1} ({v:.0%} of variance)" for i, v in enumerate(r.explained))
    return text + warn, P.cluster_figure(r.xy, r.tasks, r.modalities, f"PCA of task vectors at layer {layer}",
                                         hover=r.hover, axis_titles=axes)
