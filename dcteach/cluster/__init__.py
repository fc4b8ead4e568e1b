"""Classical clustering: k-means (torch), spectral clustering, nearest-neighbour mining
and PCA whitening.

``pairwise_sq_dists`` is the package's one squared-distance function."""

from .kmeans import KMeans, assign, kmeans_plusplus, pairwise_sq_dists, split_empty_clusters
from .neighbours import knn_accuracy, mine_neighbours, neighbour_accuracy, smooth_features
from .pca import PCAWhitening
from .spectral import SpectralClustering, affinity_matrix, normalized_laplacian, spectral_embedding

__all__ = ["KMeans", "PCAWhitening", "SpectralClustering", "affinity_matrix", "assign",
           "kmeans_plusplus", "knn_accuracy", "mine_neighbours", "neighbour_accuracy",
           "normalized_laplacian", "pairwise_sq_dists", "smooth_features", "spectral_embedding",
           "split_empty_clusters"]
