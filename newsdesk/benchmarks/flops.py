"""Floating-point work of a BERT-style encoder, to turn chunks/s into GFLOP/s.

Per layer and token: the Q, K, V and output projections (4·h² multiply-adds) and the
feed-forward pair (2·h·i), i.e. 2·(4h² + 2hi) FLOPs; attention scores and the weighted sum add
2·2·t·h FLOPs per token for a sequence of t tokens. Embedding lookup, layer norms, softmax and
pooling are a few percent and left out, so the figure slightly understates the work."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from newsdesk.embedding import resolve_model_path


@dataclass(frozen=True, slots=True)
class EncoderShape:
    layers: int
    hidden: int
    intermediate: int

    def flops(self, tokens: int) -> float:
        per_token = 2 * (4 * self.hidden**2 + 2 * self.hidden * self.intermediate)
        per_token += 4 * tokens * self.hidden
        return float(self.layers * per_token * tokens)

    def total_flops(self, token_counts: Iterable[int]) -> float:
        return sum(self.flops(t) for t in token_counts)


def encoder_shape(model: str) -> EncoderShape | None:
    """From the model's config.json; None when the files state no BERT-style shape."""
    config_file = Path(resolve_model_path(model)) / "config.json"
    try:
        config = json.loads(config_file.read_text())
        return EncoderShape(
            int(config["num_hidden_layers"]),
            int(config["hidden_size"]),
            int(config["intermediate_size"]),
        )
    except (OSError, KeyError, ValueError, TypeError):
        return None
