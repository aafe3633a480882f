"""Geometry of task vectors: final-norm normalization, cosine, PCA/t-SNE/UMAP, silhouette."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:  # the adapter interface lives in taskvec.models (which builds on core)
    from taskvec.models.base import Adapter


def normalize(adapter: Adapter, X: torch.Tensor) -> np.ndarray:
    """Apply the model's final norm (paper: makes layers comparable in scale). (N, D) -> (N, D)."""
    with torch.no_grad():
        return adapter.final_norm(X.to(adapter.device, adapter.dtype)).float().cpu().numpy()


def cosine_matrix(X: np.ndarray | torch.Tensor) -> np.ndarray:
    """(N, D) -> (N, N) cosine similarities."""
    X = np.asarray(X, dtype=np.float64)
    n = np.linalg.norm(X, axis=1, keepdims=True)
    Xn = X / np.where(n == 0, 1, n)
    return Xn @ Xn.T


def project(X: np.ndarray, method: str = "tsne", seed: int = 0) -> np.ndarray:
    """2-D embedding of (N, D) points with ``pca``, ``tsne`` or ``umap`` (seeded)."""
    X = np.asarray(X, dtype=np.float64)
    N = X.shape[0]
    if N < 3:
        raise ValueError(f"A projection needs at least 3 points; got {N}.")
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(X)
    if method == "tsne":
        from sklearn.manifold import TSNE

        return TSNE(n_components=2, perplexity=min(30.0, (N - 1) / 3), random_state=seed, init="pca").fit_transform(X)
    if method == "umap":
        import umap

        return umap.UMAP(n_components=2, n_neighbors=min(15, N - 1), random_state=seed).fit_transform(X)
    raise ValueError(f"Unknown projection {method!r}; use pca, tsne or umap.")


def silhouette(X: np.ndarray, labels) -> float:
    """Silhouette score of ``labels`` on (N, D) points (cosine distance); nan if < 2 groups."""
    from sklearn.metrics import silhouette_score

    labels = np.asarray(labels)
    if len(set(labels.tolist())) < 2 or len(labels) <= len(set(labels.tolist())):
        return float("nan")
    return float(silhouette_score(np.asarray(X, dtype=np.float64), labels, metric="cosine"))
