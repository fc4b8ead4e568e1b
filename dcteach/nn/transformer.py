"""The trainable top of a pretrained sentence transformer (SCCL's encoder, lecture 08).

SCCL fine-tunes the whole sentence encoder. On a CPU the kit trains only the layers above
``layer``: the token states after the first ``layer`` layers are computed once per corpus
(:func:`dcteach.features.token_states`) and :class:`SentenceTop` runs the remaining layers and
the sentence model's mean pooling on them::

    h⁽ˡ⁾ = states after layer l (cached),   h⁽ᴸ⁾ = Layer_L ∘ … ∘ Layer_{l+1}(h⁽ˡ⁾, mask)
    e    = Σ_t mask_t h_t⁽ᴸ⁾ / Σ_t mask_t            (mean pooling over the real tokens)

With the pretrained weights, ``e`` equals the sentence model's own (unnormalised) embedding —
the tests check it — so training starts exactly where the frozen encoder stands.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["SentenceTop"]


class SentenceTop(nn.Module):
    """Transformer layers ``layer..L-1`` of a sentence-transformers BERT model (copied, so the
    cached model stays pretrained) followed by masked mean pooling."""

    def __init__(self, sentence_model, layer: int):
        super().__init__()
        bert = sentence_model[0].auto_model
        self.layers = nn.ModuleList(copy.deepcopy(m) for m in bert.encoder.layer[layer:])
        self.out_dim = bert.config.hidden_size

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``states`` (n, L, d), ``mask`` (n, L) bool → sentence embeddings (n, d).
        Columns that are padding in every row are cut first (shorter batches run faster)."""
        width = int(mask.sum(1).max())
        h, mask = states[:, :width], mask[:, :width]
        if torch.is_autocast_enabled(h.device.type):
            h = h.to(torch.get_autocast_dtype(h.device.type))
        else:
            h = h.float()
        bias = torch.zeros(mask.shape, dtype=h.dtype, device=h.device)
        bias = bias.masked_fill(~mask, torch.finfo(h.dtype).min)[:, None, None, :]
        for block in self.layers:
            out = block(h, attention_mask=bias)
            h = out[0] if isinstance(out, tuple) else out
        m = mask.unsqueeze(-1).to(h.dtype)
        return (h * m).sum(1).float() / m.sum(1).float().clamp_min(1.0)
