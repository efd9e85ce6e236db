"""The engine's own decoding loop against transformers' generate(), its windows,
its decode and its seam, on tiny random MusicGens."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest
import torch
from transformers import LogitsProcessor

from sparrow_common.audio import decode
from sparrow_common.errors import InvalidArgument
from sparrow_common.params import Knobs
from sparrow_common.testing.clips import make_clip, tone
from sparrow_generation.domain import Continuation
from sparrow_generation.engine.musicgen import MusicGenEngine
from sparrow_generation.engine.sampling import Sampling, draw
from sparrow_generation.engine.tiny import build_random_musicgen


@pytest.fixture(scope="module")
def tiny_stereo(tmp_path_factory):
    return build_random_musicgen(tmp_path_factory.mktemp("models") / "tiny-stereo", stereo=True)


def engine_for(folder, **options) -> MusicGenEngine:
    engine = MusicGenEngine(str(folder), device="cpu", **options)
    engine.load()
    return engine


def continuation(engine, seeds, seconds=1.0, prompt_s=1.0, **knobs) -> Continuation:
    clip = make_clip("wav", seconds=2.0, sample_rate=44100, channels=2)
    context = decode(clip, engine.sample_rate, engine.channels)
    knobs = Knobs(duration_s=seconds, prompt_duration_s=prompt_s, prompt="warm lofi", **knobs)
    return Continuation(context, knobs, tuple(seeds))


class ForcedBySampling(LogitsProcessor):
    """Makes generate() keep exactly the tokens the engine's sampling draws
    (greedy over logits where only the drawn token is possible), step after
    step, as the engine did before it had its own loop."""

    def __init__(self, seeds, num_codebooks, knobs):
        self.sampling = Sampling.for_takes(list(seeds), knobs.cfg_coef, knobs.temperature, knobs.top_k, knobs.top_p)
        self.num_codebooks, self.guided, self.step = num_codebooks, knobs.cfg_coef > 1.0, 0

    def __call__(self, input_ids, scores):
        logits = scores.view(-1, self.num_codebooks, scores.shape[-1])
        cond, uncond = logits.chunk(2) if self.guided else (logits, logits)
        steps = torch.full((cond.shape[0],), self.step)
        self.step += 1
        chosen = draw(cond, uncond, self.sampling, steps).reshape(-1)
        forced = torch.full_like(scores, -1e4)
        half = forced[: chosen.shape[0]]
        half.scatter_(-1, chosen.unsqueeze(-1), 0.0)
        if self.guided:
            forced[chosen.shape[0] :] = half
        return forced


def codes_from_generate(engine: MusicGenEngine, request: Continuation) -> torch.Tensor:
    """What transformers' generate() writes for the request: (takes, K, new) codes.
    MusicGen hears the prompt as audio (`input_values`); MusicGen melody, whose
    generate() takes no audio, as its EnCodec codes (`decoder_input_ids`), and
    the melody as chroma (`input_features`)."""
    model, knobs = engine.model, request.knobs
    frames = round(knobs.prompt_duration_s * engine.frame_rate)
    prompt = request.context[:, request.context.shape[-1] - frames * engine.hop :]
    takes = len(request.seeds)
    text = engine.conditioner.tokenizer([request.description] * takes, padding=True, return_tensors="pt")
    if engine.supports_melody:
        heard = {"decoder_input_ids": engine.codec.encode(prompt).expand(takes, -1, -1).reshape(-1, frames)}
        if request.melody is not None:
            chroma = engine.chroma.for_window(request.melody, engine.sample_rate, 0.0)
            heard["input_features"] = chroma.expand(takes, -1, -1)
    else:
        heard = {"input_values": torch.from_numpy(np.stack([prompt] * takes))}
    seen = []
    decode_codes = model.audio_encoder.decode

    def recording(codes, *args, **kwargs):
        seen.append(codes)
        return decode_codes(codes, *args, **kwargs)

    new = round(knobs.duration_s * engine.frame_rate)
    model.audio_encoder.decode = recording
    try:
        model.generate(
            **text, **heard, do_sample=False,
            guidance_scale=knobs.cfg_coef, max_new_tokens=engine.pattern.steps(new),
            logits_processor=[ForcedBySampling(request.seeds, engine.num_codebooks, knobs)],
        )
    finally:
        model.audio_encoder.decode = decode_codes
    if engine.channels == 1:
        codes = seen[0][0]
    else:
        left, right = seen[0][0], seen[1][0]
        codes = torch.stack([left, right], dim=2).reshape(takes, -1, left.shape[-1])
    return codes[:, :, frames:]


@pytest.mark.parametrize("stereo", [False, True], ids=["mono", "stereo"])
@pytest.mark.parametrize("seeds, guidance", [((5,), 3.0), ((1, 2, 3), 3.0), ((9, 4), 1.0)])
def test_the_loop_writes_exactly_the_codes_generate_writes(tiny_musicgen, tiny_stereo, stereo, seeds, guidance):
    engine = engine_for(tiny_stereo if stereo else tiny_musicgen, quantize="none")
    request = continuation(engine, seeds, cfg_coef=guidance, top_k=20)
    _, ours = engine.write_codes(request, lambda *_: None, threading.Event())
    theirs = codes_from_generate(engine, request)
    assert ours.shape == theirs.shape == (len(seeds), engine.num_codebooks, 50)
    assert torch.equal(ours, theirs)


@pytest.fixture(scope="module")
def tiny_melody(tmp_path_factory):
    return build_random_musicgen(tmp_path_factory.mktemp("models") / "tiny-melody", melody=True)


@pytest.fixture(scope="module")
def tiny_stereo_melody(tmp_path_factory):
    return build_random_musicgen(tmp_path_factory.mktemp("models") / "tiny-stereo-melody", melody=True, stereo=True)


def arpeggio(engine, seconds=3.0) -> np.ndarray:
    notes = [tone(seconds / 3, engine.sample_rate, 1, freq) for freq in (261.6, 329.6, 392.0)]
    return np.tile(np.concatenate(notes, axis=-1), (engine.channels, 1)).astype(np.float32)


@pytest.mark.parametrize("stereo", [False, True], ids=["mono", "stereo"])
@pytest.mark.parametrize("with_melody", [False, True], ids=["continuation", "melody"])
def test_melody_checkpoints_continue_and_follow_a_melody_as_generate_does(
    tiny_melody, tiny_stereo_melody, stereo, with_melody
):
    engine = engine_for(tiny_stereo_melody if stereo else tiny_melody, quantize="none")
    assert engine.supports_melody
    request = continuation(engine, (1, 2), top_k=20)
    if with_melody:
        request = replace(request, melody=arpeggio(engine))
    _, ours = engine.write_codes(request, lambda *_: None, threading.Event())
    assert torch.equal(ours, codes_from_generate(engine, request))


def test_the_melody_steers_the_take(tiny_melody):
    engine = engine_for(tiny_melody)
    request = continuation(engine, (4,))
    prompt = engine.codec.encode(request.context[:, -50 * engine.hop :])

    def first_logits(melody):
        heard = engine._conditioning(replace(request, melody=melody), guided=False, start_frame=0)
        with torch.inference_mode():
            return engine.scheduler.prefill(engine.pattern.prefill(prompt), heard)[0]

    rising, falling = arpeggio(engine), arpeggio(engine)[:, ::-1].copy()
    assert torch.equal(first_logits(rising), first_logits(rising.copy()))
    assert not torch.allclose(first_logits(rising), first_logits(falling))
    assert not torch.allclose(first_logits(rising), first_logits(None))


def test_a_model_without_melody_refuses_one(tiny_musicgen):
    engine = engine_for(tiny_musicgen)
    request = replace(continuation(engine, (4,)), melody=arpeggio(engine))
    with pytest.raises(InvalidArgument, match="melody checkpoint"):
        engine.generate(request, lambda *_: None, threading.Event())


def test_a_long_take_hears_its_own_codes_and_is_decoded_once(tiny_musicgen, monkeypatch):
    # a 4 s window sliding by 2.4 s: 6 s of new audio take three windows (3 s, 2.4 s, 0.6 s)
    engine = engine_for(tiny_musicgen, window_s=4.0, stride_s=2.4)
    request = continuation(engine, (3, 4), seconds=6.0)
    heard, decodes = [], []
    submit, decode_codes = engine.scheduler.submit, engine.codec.decode
    monkeypatch.setattr(engine.scheduler, "submit", lambda window: heard.append(window.prompt) or submit(window))
    monkeypatch.setattr(engine.codec, "decode", lambda codes: decodes.append(codes) or decode_codes(codes))
    takes = engine.generate(request, lambda *_: None, threading.Event())
    assert len(heard) == 3 and len(decodes) == 1
    # what was decoded: 25 frames of the prompt, then every new frame of the take
    prompt = heard[0]
    written = decodes[0][:, :, 25:]
    assert written.shape == (2, engine.num_codebooks, 300)
    assert torch.equal(decodes[0][:, :, :25], prompt[:, :, -25:].expand(2, -1, -1))
    # each later window's prompt is the last 1.6 s of the codes written so far, per take
    so_far = torch.cat([prompt.expand(2, -1, -1), written], dim=-1)
    for window, start in ((1, 50 + 150), (2, 50 + 150 + 120)):
        assert torch.equal(heard[window], so_far[:, :, start - 80 : start])
    assert all(t.audio.shape == (1, 6 * 32000) for t in takes)


def test_decoding_the_new_frames_with_25_frames_of_left_context_matches_a_full_decode(tiny_musicgen):
    engine = engine_for(tiny_musicgen)
    request = continuation(engine, (8,), prompt_s=1.5)
    with torch.inference_mode():
        prompt, new = engine.write_codes(request, lambda *_: None, threading.Event())
        full = engine.codec.decode(torch.cat([prompt, new], -1))[..., prompt.shape[-1] * engine.hop :]
        part = engine.codec.decode(torch.cat([prompt[:, :, -25:], new], -1))[..., 25 * engine.hop :]
    assert full.shape == part.shape
    assert np.abs(full - part).max() < 1e-4 * np.sqrt((full**2).mean())


def test_every_module_in_half_precision_is_fed_its_own_dtype(tiny_musicgen):
    # As on a GPU loaded in float16: EnCodec, T5 and the decoder all in half.
    engine = engine_for(tiny_musicgen, dtype="float16")
    engine.model.half()
    takes = engine.generate(continuation(engine, (1, 2)), lambda *_: None, threading.Event())
    assert all(t.audio.dtype == np.float32 and np.isfinite(t.audio).all() for t in takes)
    assert np.abs(takes[0].audio).max() > 0


def test_int8_keeps_a_take_the_same_alone_or_batched(tiny_musicgen):
    engine = engine_for(tiny_musicgen, quantize="int8")
    assert engine.precision.int8
    alone = engine.generate(continuation(engine, (7,), top_p=0.9), lambda *_: None, threading.Event())
    batched = engine.generate(continuation(engine, (3, 7, 5), top_p=0.9), lambda *_: None, threading.Event())
    assert np.abs(alone[0].audio - batched[1].audio).max() < 1e-5


def test_the_cpu_defaults_to_int8_and_cuda_to_bfloat16():
    from sparrow_generation.engine.loading import Precision

    assert Precision.resolve("cpu", "auto", "auto") == Precision(torch.float32, True)
    assert Precision.resolve("cuda", "auto", "auto") == Precision(torch.bfloat16, False)
    assert Precision.resolve("cpu", "float16", "auto") == Precision(torch.float16, False)
    for dtype, quantize, words in (("float64", "auto", "GENERATION_DTYPE"), ("auto", "int4", "GENERATION_QUANTIZE")):
        with pytest.raises(Exception, match=words):
            Precision.resolve("cpu", dtype, quantize)
    with pytest.raises(Exception, match="CPU only"):
        Precision.resolve("cuda", "auto", "int8")
