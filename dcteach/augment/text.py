"""Text augmentation on token states: random word deletion (lecture 08).

SCCL's augmenters substitute words with a masked language model (contextual augmentation),
which costs a large model per view. The kit deletes tokens instead, at the level of the
cached lower-layer states (:func:`dcteach.features.token_states`): a view is the same text
with each word token dropped with probability ``p`` — the attention of the trained upper
layers cannot see it, and mean pooling skips it. ``[CLS]`` and ``[SEP]`` (the first and last
real token) are always kept, and so is at least one word.
"""

from __future__ import annotations

import torch

__all__ = ["token_dropout"]


def token_dropout(mask: torch.Tensor, p: float) -> torch.Tensor:
    """A copy of the attention ``mask`` (n, L) bool with each word token dropped with
    probability ``p`` (independently per row and token)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"token dropout p must be in [0, 1), got {p}")
    if p == 0:
        return mask.clone()
    n, width = mask.shape
    pos = torch.arange(width, device=mask.device).expand(n, width)
    last = mask.sum(1, keepdim=True) - 1  # [SEP]
    word = mask & (pos > 0) & (pos < last)
    keep = torch.rand(mask.shape, device=mask.device) >= p
    out = mask & (keep | ~word)
    # rows that lost every word keep one word, chosen at random among theirs
    empty = word.any(1) & ~(out & word).any(1)
    if empty.any():
        score = torch.rand(mask.shape, device=mask.device).masked_fill(~word, -1.0)
        pick = score.argmax(1)
        out[empty, pick[empty]] = True
    return out
