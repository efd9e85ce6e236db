"""The decoder's rows (engine/rows.py): each row at its own position, stepped
together with rows of other requests, hears exactly its own history."""

from __future__ import annotations

import pytest
import torch

from sparrow_generation.engine.musicgen import MusicGenEngine

STEPS = 6


@pytest.fixture(scope="module", params=["none", "auto"], ids=["float32", "int8"])
def engine(request, tiny_musicgen):
    engine = MusicGenEngine(str(tiny_musicgen), device="cpu", quantize=request.param)
    engine.load()
    return engine


def window(engine, frames: int, description: str, seed: int):
    """A prompt of `frames` random codes and its description's conditioning (no guidance)."""
    generator = torch.Generator().manual_seed(seed)
    prompt = torch.randint(0, 32, (1, engine.num_codebooks, frames), generator=generator)
    return prompt, engine.conditioner(description, guided=False)


def tokens(step: int, seed: int) -> torch.Tensor:
    return torch.randint(0, 32, (1, 4), generator=torch.Generator().manual_seed(seed * 100 + step))


def reference(engine, prompt, conditioning, fed: list[torch.Tensor]) -> torch.Tensor:
    """transformers' decoder over the whole sequence at once, no cache: the
    logits after the last token fed."""
    ids = torch.cat([engine.pattern.prefill(prompt), *(t[..., None] for t in fed)], dim=-1)
    return engine.scheduler.prefill(ids, conditioning)[0][0]


def run(engine, requests, join_at: int, gap: bool):
    """Step request 0 alone for `join_at` steps, then every request together
    (with a free slot among them when `gap`): each request's logits per step."""

    @torch.inference_mode()
    def work():
        rows, seen = engine.scheduler.rows, {index: [] for index in range(len(requests))}
        slots = {}

        def admit(index):
            prompt, conditioning = requests[index]
            _, cache = engine.scheduler.prefill(engine.pattern.prefill(prompt), conditioning)
            slots[index] = rows.take(2 if gap and index else 1)
            if gap and index:
                rows.give_back(slots[index][:1])
                slots[index] = slots[index][1:]
            rows.place(slots[index], [0], cache, conditioning.mask)

        admit(0)
        for step in range(join_at + STEPS):
            if step == join_at:
                for index in range(1, len(requests)):
                    admit(index)
            span = rows.span
            fed = torch.zeros((span, engine.num_codebooks), dtype=torch.long)
            for index, (slot,) in slots.items():
                fed[slot] = tokens(step if index == 0 else step - join_at, index)[0]
            logits = rows.step(fed, span)
            for index, (slot,) in slots.items():
                seen[index].append(logits[slot].clone())
        for taken in slots.values():
            rows.give_back(taken)
        return seen

    return engine.scheduler.call(work)


def test_rows_at_their_own_positions_hear_what_the_whole_sequence_gives(engine):
    requests = [window(engine, 30, "warm lofi", 1), window(engine, 12, "a much longer description of drums", 2)]
    seen = run(engine, requests, join_at=3, gap=True)
    with torch.inference_mode():
        for index, (prompt, conditioning) in enumerate(requests):
            steps = len(seen[index])
            fed = [tokens(step, index) for step in range(steps)]
            expected = reference(engine, prompt, conditioning, fed)
            torch.testing.assert_close(seen[index][-1], expected, rtol=1e-4, atol=1e-4)


def test_a_rows_numbers_do_not_depend_on_what_shares_its_steps(engine):
    """With int8 (the CPU's default), bit for bit: a take's codes never change
    with its batch mates. A float32 product of more rows may round its last bit
    differently (BLAS picks its kernel by the row count), so there a take's
    logits agree to rounding, and its codes almost always."""
    requests = [window(engine, 30, "warm lofi", 1), window(engine, 12, "drums", 2), window(engine, 5, "", 3)]
    alone = run(engine, requests[:1], join_at=3, gap=False)[0]
    together = run(engine, requests, join_at=3, gap=True)[0]
    for step, (mine, shared) in enumerate(zip(alone, together, strict=True)):
        if engine.precision.int8:
            assert torch.equal(mine, shared), step
        else:
            torch.testing.assert_close(mine, shared, rtol=1e-5, atol=1e-6)
