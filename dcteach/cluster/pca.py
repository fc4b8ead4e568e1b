"""PCA with whitening, in torch: DeepCluster's pre-processing before k-means.

Centre the features, project on the top ``n`` eigenvectors of their covariance
Σ = (1/(m−1)) Σ_i (x_i − μ)(x_i − μ)ᵀ = U Λ Uᵀ and, with ``whiten``, scale each component to
unit variance:  z = Λₙ^{−1/2} Uₙᵀ (x − μ).  DeepCluster (Caron et al., 2018, §3.3 and
``preprocess_features`` in its code) reduces to 256 whitened components and then
L2-normalises every row before k-means; whitening stops a few high-variance directions
from deciding every assignment.
"""

from __future__ import annotations

import torch

__all__ = ["PCAWhitening"]


class PCAWhitening:
    """``fit(x)`` learns μ, Uₙ, Λₙ (float64 eigendecomposition of the covariance on ``x``'s
    device); ``transform(x)`` returns ``Λₙ^{−1/2} Uₙᵀ (x − μ)`` (without ``whiten``: the
    plain projection), float32. ``n_components`` is clipped to the rank the data can have,
    min(d, m − 1); ``eps`` · λ_max is added to the eigenvalues before the inverse square root,
    so that directions with (almost) no variance — dead ReLU units, fewer samples than
    dimensions — are not blown up into noise that would then dominate the L2-normalised
    rows. ``variance`` < 1 keeps only the fewest leading components that explain that
    fraction of the total variance (at most ``n_components``): whitening gives every kept
    direction the same weight, so low-variance directions must be dropped, not amplified."""

    def __init__(self, n_components: int = 256, whiten: bool = True, eps: float = 1e-6,
                 variance: float = 1.0):
        if not 0.0 < variance <= 1.0:
            raise ValueError(f"variance must be in (0, 1], got {variance}")
        self.n_components = int(n_components)
        self.whiten = whiten
        self.eps = eps
        self.variance = variance

    def fit(self, x: torch.Tensor) -> PCAWhitening:
        if x.ndim != 2 or len(x) < 2:
            raise ValueError(f"PCA needs a 2-d array of at least 2 rows, got {tuple(x.shape)}")
        xd = x.double()
        self.mean_ = xd.mean(0)
        xc = xd - self.mean_
        cov = xc.T @ xc / (len(x) - 1)  # unbiased, as scikit-learn
        eigval, eigvec = torch.linalg.eigh(cov)  # ascending
        eigval = eigval.flip(0).clamp_min(0.0)
        n = min(self.n_components, x.shape[1], len(x) - 1)
        if self.variance < 1.0:
            share = eigval.cumsum(0) / eigval.sum().clamp_min(1e-30)
            n = min(n, int((share < self.variance).sum()) + 1)
        self.explained_variance_ = eigval[:n]
        self.components_ = eigvec.flip(1)[:, :n]  # (d, n), columns by decreasing variance
        return self

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        z = (x.double() - self.mean_) @ self.components_
        if self.whiten:
            floor = self.eps * float(self.explained_variance_.max().clamp_min(1e-30))
            z = z / (self.explained_variance_ + floor).sqrt()
        return z.float()

    def fit_transform(self, x: torch.Tensor) -> torch.Tensor:
        return self.fit(x).transform(x)
