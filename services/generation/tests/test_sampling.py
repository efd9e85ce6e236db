"""Per-take sampling (engine/sampling.py): seeded, counter-based, on the device."""

from __future__ import annotations

import torch

from sparrow_generation.engine.sampling import Sampling, draw


class Takes:
    """Draws for takes that share their knobs, step after step."""

    def __init__(self, seeds, codebooks, guidance, temperature, top_k, top_p):
        self.asked = (seeds, guidance, temperature, top_k, top_p)
        self.takes, self.codebooks, self.guided, self.step = len(seeds), codebooks, guidance > 1.0, 0

    def draw(self, scores: torch.Tensor) -> torch.Tensor:
        """(rows * K, vocab), [cond..., uncond...] when guided -> (takes * K,)."""
        logits = scores.view(-1, self.codebooks, scores.shape[-1])
        cond, uncond = logits.chunk(2) if self.guided else (logits, logits)
        steps = torch.full((self.takes,), self.step)
        self.step += 1
        sampling = Sampling.for_takes(*self.asked, device=scores.device)
        return draw(cond, uncond, sampling, steps.to(scores.device)).reshape(-1)

LOGITS = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0, -3.0])
DRAWS = 40000


def frequencies(top_k=0, top_p=1.0, temperature=1.0) -> torch.Tensor:
    """How often each token is drawn from LOGITS, one draw per take of DRAWS takes."""
    sampler = Takes(list(range(DRAWS)), 1, 1.0, temperature, top_k, top_p)
    tokens = sampler.draw(LOGITS.expand(DRAWS, -1))
    return torch.bincount(tokens, minlength=len(LOGITS)).float() / DRAWS


def test_tokens_are_drawn_with_their_softmax_probability():
    torch.testing.assert_close(frequencies(), LOGITS.softmax(-1), atol=0.01, rtol=0)
    torch.testing.assert_close(frequencies(temperature=0.5), (LOGITS / 0.5).softmax(-1), atol=0.01, rtol=0)


def test_top_k_and_top_p_leave_out_the_tail():
    two = frequencies(top_k=2)
    assert two[2:].sum() == 0
    torch.testing.assert_close(two[:2], LOGITS[:2].softmax(-1), atol=0.01, rtol=0)
    # softmax: 0.58, 0.21, 0.13, ...: top_p 0.7 keeps the first two (the second crosses it)
    nucleus = frequencies(top_p=0.7)
    assert nucleus[2:].sum() == 0 and nucleus[1] > 0.2


def test_a_takes_tokens_do_not_depend_on_its_batch_mates_or_their_order():
    codebooks, vocab, steps = 4, 64, 20
    logits = torch.randn(steps, 3 * codebooks, vocab, generator=torch.Generator().manual_seed(0))
    alone = Takes([2**63 - 1], codebooks, 1.0, 1.0, 0, 1.0)
    batch = Takes([5, 2**63 - 1, 0], codebooks, 1.0, 1.0, 0, 1.0)
    for step in range(steps):
        mine = logits[step, codebooks : 2 * codebooks]
        together = batch.draw(logits[step]).view(3, codebooks)
        assert torch.equal(alone.draw(mine), together[1])
    # and the takes of a batch hear different streams
    assert not torch.equal(together[0], together[2])


def test_guidance_mixes_the_conditional_and_unconditional_rows():
    cond, uncond = torch.tensor([[0.0, 3.0, 0.0]]), torch.tensor([[0.0, 1.0, 2.5]])
    sampler = Takes([1], 1, 3.0, 1.0, 1, 1.0)  # top_k 1: the guided argmax
    # uncond + 3 * (cond - uncond) = [0, 7, -5]
    assert sampler.draw(torch.cat([cond, uncond])).tolist() == [1]


def test_drawing_never_reads_the_logits_back_to_the_host():
    """On the meta device every value is unknown: any step that needs the
    numbers on the host (item(), cpu(), a Python branch on them) fails."""
    sampler = Takes([1, 2], 4, 3.0, 0.9, 250, 0.95)
    drawn = sampler.draw(torch.empty(2 * 2 * 4, 2048, device="meta"))
    assert drawn.device.type == "meta" and drawn.shape == (2 * 4,)


def test_takes_of_different_requests_draw_together_as_they_draw_apart():
    """Each take brings its own knobs and step: drawn in one call with takes of
    other requests, it gets the tokens it gets alone."""
    codebooks, vocab = 4, 64
    generator = torch.Generator().manual_seed(3)
    asked = [([1, 2], 3.0, 1.0, 0, 1.0, 7), ([3], 1.0, 0.6, 5, 1.0, 0), ([4], 2.0, 1.3, 0, 0.8, 40)]
    parts, separately = [], []
    for seeds, guidance, temperature, top_k, top_p, step in asked:
        sampling = Sampling.for_takes(seeds, guidance, temperature, top_k, top_p)
        cond, uncond = torch.randn(2, len(seeds), codebooks, vocab, generator=generator)
        steps = torch.full((len(seeds),), step)
        separately.append(draw(cond, uncond, sampling, steps))
        parts.append((sampling, cond, uncond, steps))
    together = draw(
        torch.cat([p[1] for p in parts]), torch.cat([p[2] for p in parts]),
        Sampling.join([p[0] for p in parts]), torch.cat([p[3] for p in parts]),
    )
    assert torch.equal(together, torch.cat(separately))
