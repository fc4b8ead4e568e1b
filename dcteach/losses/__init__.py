"""Every loss of the course as a plain function, grouped by idea. This page is the index.

DEC family (:mod:`dcteach.losses.dec`, lecture 02)
    :func:`soft_assignment`      Student-t kernel q_ij (DEC eq. 1)
    :func:`target_distribution`  sharpened, frequency-normalised target p_ij (DEC eq. 3)
    :func:`dec_kl`               KL(P ‖ Q), the DEC / IDEC clustering term (DEC eq. 2)
    :func:`reconstruction_loss`  mean squared reconstruction error (IDEC, DCN)
    :func:`dcn_kmeans_loss`      DCN's k-means-friendly term ½‖f(x) − M s‖²
    :func:`dcn_update_centers`   DCN's online centroid update with counts (not a loss; kept
                                 next to the term it belongs to)

Contrastive (:mod:`dcteach.losses.contrastive`, lectures 04 and 08)
    :func:`nt_xent`              NT-Xent / InfoNCE over a batch of view pairs (SimCLR, CC, SCCL)
    :func:`cluster_contrastive_loss`  CC: NT-Xent over assignment *columns* + log K − H(p̄)
    :func:`assignment_entropy`   H(p̄), entropy of the mean assignment (CC, SCAN)

Instance discrimination and feature decorrelation (:mod:`dcteach.losses.instance`, lecture 05)
    :func:`instance_discrimination_loss`  IDFD/InstDisc: softmax over a memory bank of all N
                                 samples at τ, each sample its own class (rows of V)
    :func:`feature_decorrelation_loss`    IDFD: softmax over the d batch-normalised feature
                                 columns at τ₂ (columns of V)
    :func:`feature_orthogonality_loss`    IDFO: ‖F Fᵀ − I‖² on the same columns

Prototypical contrastive learning (:mod:`dcteach.losses.prototypical`, lecture 07)
    :func:`info_nce`             MoCo/PCL InfoNCE: query vs its key and the queue's r keys
    :func:`concentration`        PCL's per-cluster concentration φ (the prototype temperature)
    :func:`proto_nce`            PCL's prototype term for one granularity (logits / φ)

Pseudo-labels (:mod:`dcteach.losses.pseudo_label`, lectures 06 and 08)
    :func:`scan_loss`            SCAN: neighbour consistency − w · entropy of the mean prediction
    :func:`structured_scan_loss` seed 004's variant: weighted consistency + cluster contrast
                                 − λ · entropy (weights from :func:`neighbour_weights`)
    :func:`confident_pseudo_labels`  self-labelling: which samples are confident enough
    :func:`balanced_cross_entropy`   cross-entropy with class weights n / (k · count_c)

Distances come from one place, :func:`dcteach.cluster.pairwise_sq_dists`.
"""

from .contrastive import assignment_entropy, cluster_contrastive_loss, nt_xent
from .dec import (
    dcn_kmeans_loss,
    dcn_update_centers,
    dec_kl,
    reconstruction_loss,
    soft_assignment,
    target_distribution,
)
from .instance import (
    feature_decorrelation_loss,
    feature_orthogonality_loss,
    instance_discrimination_loss,
)
from .prototypical import concentration, info_nce, proto_nce
from .pseudo_label import (
    balanced_cross_entropy,
    class_balance_weights,
    confident_pseudo_labels,
    neighbour_weights,
    scan_loss,
    structured_scan_loss,
)

__all__ = ["soft_assignment", "target_distribution", "dec_kl", "reconstruction_loss",
           "dcn_kmeans_loss", "dcn_update_centers", "nt_xent",
           "cluster_contrastive_loss", "assignment_entropy", "instance_discrimination_loss",
           "feature_decorrelation_loss", "feature_orthogonality_loss", "info_nce",
           "concentration", "proto_nce", "scan_loss",
           "neighbour_weights", "structured_scan_loss",
           "confident_pseudo_labels", "class_balance_weights", "balanced_cross_entropy"]
