"""Self-attention for the decoding steps that reads a shared prompt once.

Every take of a batch continues the same prompt, so after the prefill their
keys and values for the prompt are the same: one conditional and one
unconditional copy. Expanding them to every take's rows (and attending over a
static cache of the whole window) made each step read takes x prompt x 24 layers
of keys and values, the largest cost of a step past one take on the CPU.

Here the cache keeps the prefill's keys and values as they are, one row per
*group* (a group is the rows that heard the same prefill: with a shared prompt,
all the takes' conditional rows, and all their unconditional rows), and writes
only the steps' own keys and values per row. A step's attention scores the
prompt and the row's own steps, takes one softmax over both, and sums the two
weighted values: the same attention as over one concatenated cache.

Each take's row is scored against the prompt on its own (a product of one row
per group, batched over the groups), so a take's numbers do not depend on how many takes share its batch (a
batched product may round differently by its row count).

transformers calls attention through its AttentionInterface; `NAME` is
registered there and set on the decoder's config at load. It runs this only for
the steps' self-attention (a call that passes `prefixed`); the prefill and the
cross-attention to the text run PyTorch's scaled_dot_product_attention, as
"sdpa" does.
"""

from __future__ import annotations

import torch
from transformers import AttentionInterface
from transformers.cache_utils import Cache, CacheLayerMixin
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

NAME = "sparrow_shared_prefix"


class PrefixedLayer(CacheLayerMixin):
    """One layer's cache: the prefill's keys and values (groups, heads, P, d),
    and room for `steps` more per row (rows, heads, steps, d)."""

    is_sliding = False
    is_compileable = False

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, rows: int, steps: int):
        super().__init__()
        if rows % keys.shape[0]:
            raise ValueError(f"{rows} rows can't be split into {keys.shape[0]} groups")
        self.prefix_keys, self.prefix_values = keys, values
        self.per_group = rows // keys.shape[0]
        groups, heads, _, dim = keys.shape
        # Only the written part is ever read, so the room needs no zeroing.
        self.keys = keys.new_empty((rows, heads, steps, dim))
        self.values = values.new_empty((rows, heads, steps, values.shape[-1]))
        self.written = 0
        self.device = keys.device
        self.is_initialized = True

    @property
    def prefix_length(self) -> int:
        return self.prefix_keys.shape[-2]

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        pass  # built whole in __init__

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        """Write a step's keys and values; -> every row's steps so far."""
        end = self.written + key_states.shape[-2]
        self.keys[:, :, self.written : end] = key_states
        self.values[:, :, self.written : end] = value_states
        self.written = end
        return self.keys[:, :, :end], self.values[:, :, :end]

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return self.prefix_length + self.written + query_length, 0

    def get_seq_length(self) -> int:
        return self.prefix_length + self.written

    def get_max_length(self) -> int:
        return self.prefix_length + self.keys.shape[-2]

    def attend(self, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, scaling: float) -> torch.Tensor:
        """query (rows, heads, 1, d), this layer's steps' keys and values as
        update() gave them -> (rows, 1, heads, d)."""
        rows, heads, _, dim = query.shape
        prefix, per_group = self.prefix_length, self.per_group
        groups = rows // per_group
        # Row t of every group at once: a batch over groups, one row each.
        by_group = query.view(groups, per_group, heads, 1, dim)
        scores = torch.stack(
            [by_group[:, t] @ self.prefix_keys.transpose(-1, -2) for t in range(per_group)], dim=1
        ).reshape(rows, heads, 1, prefix)
        scores = torch.cat([scores, query @ keys.transpose(-1, -2)], dim=-1)
        weights = (scores * scaling).softmax(dim=-1, dtype=torch.float32).to(query.dtype)
        heard = weights[..., :prefix].reshape(groups, per_group, heads, 1, prefix)
        heard = torch.stack([heard[:, t] @ self.prefix_values for t in range(per_group)], dim=1)
        out = heard.reshape(rows, heads, 1, -1) + weights[..., prefix:] @ values
        return out.transpose(1, 2)


class PrefixedCache(Cache):
    """The steps' self-attention cache, one PrefixedLayer per decoder layer,
    built from the prefill's (dynamic) cache."""

    def __init__(self, prefilled: Cache, rows: int, steps: int):
        super().__init__(
            layers=[PrefixedLayer(layer.keys, layer.values, rows, steps) for layer in prefilled.layers]
        )


def shared_prefix_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    prefixed: PrefixedCache | None = None,
    **kwargs,
):
    if prefixed is None or not module.is_causal:  # the prefill, or the cross-attention to the text
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    if query.shape[-2] != 1:
        raise ValueError("the shared-prefix cache takes one position per step")
    scale = scaling if scaling is not None else query.shape[-1] ** -0.5
    return prefixed.layers[module.layer_idx].attend(query, key, value, scale), None


AttentionInterface.register(NAME, shared_prefix_attention)
AttentionMaskInterface.register(NAME, ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])
