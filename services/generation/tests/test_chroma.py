"""Melody chroma without torchaudio: the same `input_features` as transformers'
MusicgenMelodyFeatureExtractor, a chroma a musician would recognise, and a tiny
musicgen-melody that generates from it."""

from __future__ import annotations

import importlib
import json
import types

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, MusicgenMelodyForConditionalGeneration

from sparrow_common.errors import InvalidArgument
from sparrow_generation.engine.chroma import MelodyChroma
from sparrow_generation.engine.tiny import build_random_musicgen

# The module itself: `from transformers.models.musicgen_melody import ...` hands back a
# placeholder when torchaudio is missing.
melody_features = importlib.import_module(
    "transformers.models.musicgen_melody.feature_extraction_musicgen_melody"
)

RATE = 32000
C, E, G = 0, 4, 7  # chroma bins start at C
HZ = {C: 261.63, E: 329.63, G: 392.00}


class _Spectrogram(torch.nn.Module):
    """torchaudio.transforms.Spectrogram as torchaudio documents it: win_length defaults
    to n_fft, hop_length to win_length // 2, a periodic Hann window, `torch.stft` with
    center=True and reflect padding, `normalized=True` (or "window") dividing by the
    window's L2 norm, "frame_length" by sqrt(frame length), then |X| ** power."""

    def __init__(self, n_fft=400, win_length=None, hop_length=None, pad=0, window_fn=torch.hann_window,
                 power=2.0, normalized=False, wkwargs=None, center=True, pad_mode="reflect", onesided=True):
        super().__init__()
        self.n_fft = n_fft
        self.win_length = win_length if win_length is not None else n_fft
        self.hop_length = hop_length if hop_length is not None else self.win_length // 2
        self.register_buffer("window", window_fn(self.win_length, **(wkwargs or {})))
        self.pad, self.power, self.normalized = pad, power, normalized
        self.center, self.pad_mode, self.onesided = center, pad_mode, onesided

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        if self.pad > 0:
            waveform = torch.nn.functional.pad(waveform, (self.pad, self.pad), "constant")
        shape = waveform.shape
        spec = torch.stft(
            waveform.reshape(-1, shape[-1]), self.n_fft, self.hop_length, self.win_length, self.window,
            center=self.center, pad_mode=self.pad_mode, normalized=self.normalized == "frame_length",
            onesided=self.onesided, return_complex=True,
        )
        spec = spec.reshape(shape[:-1] + spec.shape[-2:])
        if self.normalized is True or self.normalized == "window":
            spec = spec / self.window.pow(2.0).sum().sqrt()
        return spec if self.power is None else spec.abs().pow(self.power)


def _resample(*args, **kwargs):
    raise AssertionError("the reference must not resample: the melody is already at the model's rate")


TORCHAUDIO = types.SimpleNamespace(
    transforms=types.SimpleNamespace(Spectrogram=_Spectrogram),
    functional=types.SimpleNamespace(resample=_resample),
)


def _tone(pitch: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * HZ[pitch] * t)).astype(np.float32)


@pytest.fixture(scope="module")
def tiny_melody(tmp_path_factory):
    return build_random_musicgen(tmp_path_factory.mktemp("models") / "tiny-melody", melody=True)


@pytest.fixture(scope="module")
def reference(tiny_melody):
    """transformers' own extractor, loaded from the tiny model's preprocessor_config.json,
    with the stand-in where it calls torchaudio."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(melody_features, "torchaudio", TORCHAUDIO, raising=False)
        yield melody_features.MusicgenMelodyFeatureExtractor.from_pretrained(tiny_melody)


@pytest.fixture(scope="module")
def chroma(tiny_melody):
    return MelodyChroma.from_pretrained(tiny_melody)


def test_the_stand_in_is_torchaudios_spectrogram():
    # Documented defaults: n_fft 400, hop 200, periodic Hann.
    default = _Spectrogram()
    n = np.arange(400)
    assert default.hop_length == 200
    np.testing.assert_allclose(default.window.numpy(), 0.5 - 0.5 * np.cos(2 * np.pi * n / 400), atol=1e-6)
    # One frame by hand with numpy: reflect padding by n_fft // 2, window, |rfft|^2 / sum(w^2).
    n_fft, hop = 1024, 256
    wave = np.random.default_rng(0).standard_normal(5000).astype(np.float32)
    spec = _Spectrogram(n_fft=n_fft, win_length=n_fft, hop_length=hop, power=2, normalized=True)(
        torch.from_numpy(wave)[None]
    )[0].numpy()
    padded = np.pad(wave.astype(np.float64), n_fft // 2, mode="reflect")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    assert spec.shape == (n_fft // 2 + 1, 1 + len(wave) // hop)
    for frame in (0, 7, spec.shape[1] - 1):
        frame_fft = np.fft.rfft(padded[frame * hop : frame * hop + n_fft] * window)
        by_hand = np.abs(frame_fft) ** 2 / (window**2).sum()
        np.testing.assert_allclose(spec[:, frame], by_hand, rtol=1e-3, atol=1e-3)


def test_the_saved_config_is_what_the_extractor_itself_writes(tiny_melody, reference):
    saved = json.loads((tiny_melody / "preprocessor_config.json").read_text())
    written = json.loads(reference.to_json_string())
    assert {k: v for k, v in saved.items() if k != "processor_class"} == written
    assert saved["processor_class"] == "MusicgenMelodyProcessor"


def _noise(seconds: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(int(seconds * RATE)).astype(np.float32)


# Melodies where a careless chroma would pick another pitch somewhere: a first note
# shorter than half an FFT (the reflect padding decides frame 0), channels whose mean
# sounds neither channel's note, a melody shorter than one FFT (the centring in
# silence decides), one past 30 s (the cut), and noise, where bins nearly tie.
@pytest.mark.parametrize(
    "melody",
    [
        pytest.param(
            lambda: np.concatenate([_tone(G, 0.1), _tone(C, 1), _tone(E, 1), _tone(G, 1.4)]), id="mono"
        ),
        pytest.param(
            lambda: np.stack([_tone(C, 3) + _tone(G, 3, 0.4), _tone(E, 3) + _tone(G, 3, 0.4)]), id="stereo"
        ),
        pytest.param(lambda: np.concatenate([_tone(C, 0.1), _tone(G, 0.2)]), id="shorter-than-one-fft"),
        pytest.param(
            lambda: np.stack([_noise(31, 1), np.tile(_tone(G, 1), 31)]), id="stereo-longer-than-30s"
        ),
        pytest.param(lambda: _noise(30, 2) + np.tile(_tone(E, 1, 0.02), 30), id="noise"),
    ],
)
def test_chroma_equals_transformers_extractor(melody, chroma, reference):
    audio = melody()
    # A stereo melody is one melody: the extractor takes (channels, samples) in a list.
    expected = reference(audio if audio.ndim == 1 else [audio], sampling_rate=RATE, return_tensors="pt")
    ours = chroma(audio, RATE)
    assert ours.dtype == torch.float32
    assert torch.equal(ours, expected["input_features"])


def test_a_c_major_arpeggio_lights_c_e_and_g(chroma):
    melody = np.concatenate([_tone(C, 1), _tone(E, 1), _tone(G, 1)])
    bins = chroma(melody, RATE)[0].argmax(-1).tolist()
    # Frames whose whole FFT window lies inside one note.
    half = chroma.n_fft // 2
    heard = [
        pitch
        for frame, pitch in enumerate(bins)
        if any(k * RATE + half <= frame * chroma.hop_length <= (k + 1) * RATE - half for k in range(3))
    ]
    assert heard and set(heard) == {C, E, G}
    assert [p for i, p in enumerate(heard) if i == 0 or heard[i - 1] != p] == [C, E, G]
    assert set(bins) <= {C, E, G}


def test_a_later_window_hears_the_melody_from_where_it_left_off(chroma):
    melody = np.concatenate([_tone(C, 2), _tone(G, 2)])
    window = chroma.for_window(melody, RATE, offset_s=2.0)[0].argmax(-1).tolist()
    assert len(window) == 1 + 30 * RATE // chroma.hop_length
    assert window[2] == G  # the window opens on the melody's second note
    assert window[int(2.5 * RATE) // chroma.hop_length] == C  # then the melody comes round again


def test_a_melody_at_another_rate_is_refused(chroma):
    with pytest.raises(InvalidArgument, match="44100 Hz"):
        chroma(np.zeros(44100, dtype=np.float32), 44100)


@pytest.mark.parametrize("stereo", [False, True], ids=["mono", "stereo"])
def test_a_tiny_melody_model_generates_from_the_chroma(stereo, tiny_melody, tmp_path):
    folder = tiny_melody
    if stereo:
        folder = build_random_musicgen(tmp_path / "stereo-melody", stereo=True, melody=True)
    model = MusicgenMelodyForConditionalGeneration.from_pretrained(folder).eval()
    text = AutoTokenizer.from_pretrained(folder)(["warm lofi piano"], return_tensors="pt")
    chroma = MelodyChroma.from_pretrained(folder)
    assert chroma.n_chroma == model.config.num_chroma
    arpeggio = chroma(np.concatenate([_tone(C, 1), _tone(E, 1), _tone(G, 1)]), RATE)
    drone = chroma(np.stack([_tone(G, 3), _tone(G, 3)]), RATE)

    def generate(features):
        torch.manual_seed(0)
        return model.generate(
            **text, input_features=features, max_new_tokens=8, do_sample=False,
            return_dict_in_generate=True, output_scores=True,
        )

    heard = generate(arpeggio)
    audio = heard.sequences
    assert audio.shape[:2] == (1, 2 if stereo else 1) and audio.shape[-1] > 0
    assert torch.isfinite(audio).all()
    # The melody reaches the decoder: another melody, other logits.
    other = generate(drone)
    assert not torch.allclose(torch.stack(heard.scores), torch.stack(other.scores))
