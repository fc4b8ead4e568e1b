"""Classical clustering: k-means (torch), spectral clustering and nearest-neighbour mining.

``pairwise_sq_dists`` is the package's one squared-distance function."""

from .kmeans import KMeans, assign, kmeans_plusplus, pairwise_sq_dists
from .neighbours import knn_accuracy, mine_neighbours, neighbour_accuracy, smooth_features
from .spectral import SpectralClustering, affinity_matrix, normalized_laplacian, spectral_embedding

__all__ = ["KMeans", "SpectralClustering", "affinity_matrix", "assign", "kmeans_plusplus",
           "knn_accuracy",
           "mine_neighbours", "neighbour_accuracy", "normalized_laplacian", "pairwise_sq_dists",
           "smooth_features", "spectral_embedding"]
