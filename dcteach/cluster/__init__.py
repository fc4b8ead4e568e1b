"""Classical clustering: k-means (torch) and spectral clustering."""

from .kmeans import KMeans, assign, kmeans_plusplus, pairwise_sq_dists
from .spectral import SpectralClustering, affinity_matrix, normalized_laplacian, spectral_embedding

__all__ = ["KMeans", "SpectralClustering", "affinity_matrix", "assign", "kmeans_plusplus",
           "normalized_laplacian", "pairwise_sq_dists", "spectral_embedding"]
