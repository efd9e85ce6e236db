"""The steps' attention over a prompt kept once for every take (engine/attention.py)."""

from __future__ import annotations

import torch
from torch.nn.functional import scaled_dot_product_attention

from sparrow_generation.engine.attention import PrefixedLayer

HEADS, PROMPT, DIM = 4, 37, 16


def filled(layer: PrefixedLayer, steps: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    rows = layer.keys.shape[0]
    for _ in range(steps):
        keys, values = layer.update(
            torch.randn(rows, HEADS, 1, DIM, generator=generator), torch.randn(rows, HEADS, 1, DIM, generator=generator)
        )
    return keys, values


def test_attending_to_the_shared_prompt_and_the_steps_is_attention_over_both():
    generator = torch.Generator().manual_seed(0)
    groups, takes = 2, 3
    prefix_keys = torch.randn(groups, HEADS, PROMPT, DIM, generator=generator)
    prefix_values = torch.randn(groups, HEADS, PROMPT, DIM, generator=generator)
    layer = PrefixedLayer(prefix_keys, prefix_values, rows=groups * takes, steps=8)
    keys, values = filled(layer, 5, generator)
    query = torch.randn(groups * takes, HEADS, 1, DIM, generator=generator)

    out = layer.attend(query, keys, values, DIM**-0.5)

    # What the rows attended to before: the prompt copied to each take's row, then its steps.
    whole_keys = torch.cat([prefix_keys.repeat_interleave(takes, 0), keys], dim=2)
    whole_values = torch.cat([prefix_values.repeat_interleave(takes, 0), values], dim=2)
    expected = scaled_dot_product_attention(query, whole_keys, whole_values).transpose(1, 2)
    assert out.shape == (groups * takes, 1, HEADS, DIM)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    assert layer.get_seq_length() == PROMPT + 5


def test_a_take_attends_the_same_alone_or_with_others():
    """Bit for bit, in float32 and bfloat16: a take's codes must not depend on its batch mates."""
    for dtype in (torch.float32, torch.bfloat16):
        generator = torch.Generator().manual_seed(1)
        groups, takes = 2, 4
        prefix = [torch.randn(groups, HEADS, PROMPT, DIM, generator=generator).to(dtype) for _ in range(2)]
        batch = PrefixedLayer(*prefix, rows=groups * takes, steps=4)
        keys, values = (t.to(dtype) for t in filled(batch, 3, generator))
        query = torch.randn(groups * takes, HEADS, 1, DIM, generator=generator).to(dtype)
        together = batch.attend(query, keys, values, DIM**-0.5)

        take = 2
        rows = [take, takes + take]  # its conditional and unconditional rows
        alone = PrefixedLayer(*prefix, rows=groups, steps=4)
        alone_out = alone.attend(query[rows], keys[rows], values[rows], DIM**-0.5)
        assert torch.equal(alone_out, together[rows]), dtype
