"""Figures of taskvec: one style (``style``), one function per figure, plain data in, ``go.Figure`` out.

The CLIs and the app draw an analysis with the same function. Plotly and numpy only: this
package never imports torch, transformers or the rest of taskvec, so results loaded from
JSON draw the same as results fresh from a run.
"""

from taskvec.plot.geometry import cluster_figure, cosine_figure, cosine_heatmap
from taskvec.plot.io import save_figure, save_figures, save_png
from taskvec.plot.lens import lens_heatmap, phase_figure, phase_grid, top1_figure, top1_roles_figure
from taskvec.plot.playground import method_bars, topk_bar
from taskvec.plot.style import show_token
from taskvec.plot.sweep import sweep_figure
from taskvec.plot.tables import ensemble_figure, summary_table

__all__ = ["cluster_figure", "cosine_figure", "cosine_heatmap", "ensemble_figure", "lens_heatmap", "method_bars", "phase_figure",
           "phase_grid", "save_figure", "save_figures", "save_png", "show_token", "summary_table", "sweep_figure",
           "top1_figure", "top1_roles_figure", "topk_bar"]
