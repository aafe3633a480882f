"""The guided tour: the paper's story in four steps, each one plain sentence and one figure.

1. No Context / Prompt / Patch accuracy over image queries (text examples) on the loaded model,
   beside the paper's Idefics2 numbers, with one query image and its three answers;
2. the layer sweep (where in the network the vector works);
3. the three phases of the logit lens (input -> task -> answer);
4. the clusters (task vectors group by task, not by modality).

The numbers come from ``tour_data``: for the default model from ``assets/app_picks.json`` (built by
``python -m taskvec.app.picks`` with the same analysis functions, so the tour appears instantly),
for any other model computed live on fewer queries.
"""

from __future__ import annotations

from dataclasses import dataclass

from taskvec import plot as P
from taskvec.app import picks as PK

STEPS = ("1. Text task → image query", "2. Which layer", "3. Three phases", "4. Clusters")
LIVE_QUERIES = 20  # image queries per task when the tour is computed live (a model without a picks file)


@dataclass
class TourView:
    """What one step shows: a sentence, a figure, and (step 1) a query image with its answers."""

    markdown: str
    figure: object
    image: str | None = None
    answers: str = ""


def tour_data(adapter, progress=None, precomputed: bool = True) -> dict:
    """The tour's numbers: the picks file for the default model when it matches, else computed live."""
    data = PK.load_picks(adapter.model_id) if precomputed else None
    if data is not None:
        return {**data, "source": "precomputed"}
    from taskvec.app.library import paper_tasks

    tasks = [t for t in paper_tasks() if t.domain == "country"]  # flags: drawn for every model, cheap to read
    aggs = PK.aggregates(adapter, tasks, LIVE_QUERIES, progress)
    task = max(aggs, key=lambda t: aggs[t]["Patch"] - aggs[t]["Prompt"])
    example = None
    item = next(t for t in tasks if t.id == task).split("test")[0]
    flag = f"flags/{item.input}.png"
    if (PK.examples_dir() / flag).is_file():
        spec = "\n".join(f"{x} : {y}" for x, y in next(t for t in tasks if t.id == task).pairs("val")[:5])
        row = PK._row("text examples", spec, query_image=flag, expected=item.answer)
        example = {"task": task, "input": item.input, "row": row, "answers": PK.run_row(adapter, row)}
    return {"model": adapter.model_id, "n_queries": LIVE_QUERIES, "aggregates": aggs, "average": PK.average(aggs),
            "paper_idefics2": PK.PAPER_IDEFICS2, "sweep_default": {"task": task, "n_queries": LIVE_QUERIES},
            "examples": [example] if example else [], "tour": PK.tour_extras(adapter, paper_tasks(), task),
            "source": "live"}


def _warn(adapter) -> str:
    return ("\n\n⚠️ *This model has random weights: the mechanics run, the answers mean nothing. "
            "Load `organism` to see the effect.*" if adapter.meaningless_weights else "")


def _answers_md(ex: dict) -> str:
    a = ex["answers"]
    marks = " · ".join(f"**{m}** `{(a[m]['answer'].strip() or '∅')}` {'✓' if a[m]['correct'] else '✗'}"
                       for m in PK.METHODS)
    return f"One of these queries — picture of **{ex['input']}** ({ex['task']}), expected `{ex['row']['expected']}`:\n\n{marks}"


def tour_view(adapter, data: dict, i: int) -> TourView:
    """Step ``i`` (0-3) drawn from ``tour_data``."""
    i = max(0, min(len(STEPS) - 1, int(i)))
    n, aggs, avg, paper = data["n_queries"], data["aggregates"], data["average"], data["paper_idefics2"]
    model, warn = data["model"], _warn(adapter)
    where = "precomputed by `python -m taskvec.app.picks`" if data.get("source") == "precomputed" else "computed now"
    if i == 0:
        k = len(aggs)
        md = (f"**Five text examples** (`France : Paris`, ...) teach a task; the query is an **image**. Put in the "
              f"prompt, the examples give Prompt **{avg['Prompt']:.2f}**; turned into a task vector and patched into the "
              f"image query alone, Patch **{avg['Patch']:.2f}** (No Context {avg['No Context']:.2f}). ")
        md += ("The patch carries the task from text to image better than the prompt — as the paper saw on Idefics2 "
               if avg["Patch"] > avg["Prompt"] else "On this model the patch does not beat the prompt; the paper saw "
               "it do so on Idefics2 ") + f"({paper['Prompt']:.2f} vs {paper['Patch']:.2f})."
        fig = P.method_bars({f"{model}: mean of {k} tasks × {n} image queries": avg, "paper: Idefics2 (6 tasks)": paper},
                            "Text examples, image queries: accuracy of each method",
                            f"first-token accuracy on the test split; patch at layer {data.get('layer', '')}; {where}")
        ex = data["examples"][0] if data.get("examples") else None
        return TourView(md + warn, fig, PK._abs(ex["row"]["query_image"]) if ex else None, _answers_md(ex) if ex else "")
    if i == 1:
        t = data["sweep_default"]["task"]
        a = aggs[t]
        best = a["values"].index(max(a["values"]))
        above = [l for l, v in enumerate(a["values"]) if v > a["Prompt"]]
        span = (f"beats the Prompt ({a['Prompt']:.2f}) only when patched at layers {above[0]}–{above[-1]}"
                if above else f"never beats the Prompt ({a['Prompt']:.2f}) on this model")
        md = (f"The same vector patched at each layer in turn, **{t}**, {a['n']} image queries: it {span}, best at layer "
              f"{best} ({a['values'][best]:.2f}) — the task sits at a particular depth of the network. Dotted: the "
              "Prompt; dashed: No Context.")
        fig = P.sweep_figure(a["values"], a["Prompt"], a["No Context"], chosen_layer=a["layer"], n=a["n"],
                             title=f"{t}: text-example vector patched into image queries, per layer",
                             chosen_label="suggested layer", note=f"best layer here: {best}")
        return TourView(md + warn, fig)
    if i == 2:
        ph = data["tour"]["phases"]
        import numpy as np

        order = sorted(ph["peaks"].items(), key=lambda kv: kv[1])
        seen = [k for k, _ in order] == ["input", "task", "answer"]
        md = ("Reading the last ':' with the **logit lens** layer by layer: in the paper the model's guess moves from "
              "the **input** token to the **task** word to the **answer** (three phases)"
              + (" — and so it does here. " if seen else "; on this model the order differs. ") + "Peaks: "
              + ", ".join(f"{k} at layer {v}" for k, v in order) + ".")
        fig = P.phase_figure(np.array(ph["mean"]), np.array(ph["std"]), ph["tokens"], ph["labels"],
                             f"{ph['task']} (text examples): relative probability of input / task / answer",
                             n_runs=ph["n_runs"])
        return TourView(md + warn, fig)
    c = data["tour"]["clusters"]
    import numpy as np

    axes = tuple(f"PC {j + 1} ({v:.0%} of variance)" for j, v in enumerate(c["explained"])) if c["explained"] else None
    st, sm = c.get("silhouette_task"), c.get("silhouette_modality")
    grouped = st is not None and st > 0.5 and abs(sm) < 0.2
    md = ("Task vectors from **text** (circles) and **image** (squares) examples of the six tasks"
          + (": they group by **task**, not by how the task was given — one representation across modalities. "
             if grouped else ", colour = task. The paper found them grouped by task across modalities. ") + c["summary"])
    fig = P.cluster_figure(np.array(c["xy"]), c["tasks"], c["modalities"], f"PCA of task vectors at layer {c['layer']}",
                           hover=c["hover"], axis_titles=axes)
    return TourView(md + warn, fig)


def tour_step(adapter, step: str, progress=None):
    """(markdown, figure) of one step by name (a notebook or test call; the tab caches ``tour_data``)."""
    i = STEPS.index(step) if step in STEPS else 0
    v = tour_view(adapter, tour_data(adapter, progress), i)
    return v.markdown, v.figure
