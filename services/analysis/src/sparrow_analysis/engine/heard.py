"""What every other measure reads, computed once per clip: the onsets (a mel
spectrogram's flux), pitch classes fine in time (a 4096-point STFT) for the
bars, and fine in pitch (a constant-Q spectrum, a third of a semitone a bin, C1
to B7, whose bass windows last a second) for the key.

- `onsets`: new notes, however soft: librosa's spectral flux on a log-power mel
  spectrogram, whose high bands hear a bow's, a hammer's or a breath's attack
  (on the pieces of sparrow_common.testing.pieces it repeats at the beat more
  clearly than a semitone flux does);
- `fine_onsets`: the same flux through a window half as long (46 ms), which
  hears the short breath between a wind player's repeated notes (an oboe's
  eighths on one chord) that the 93 ms window blurs: how the beat divides;
- `harmony`: how far the chroma moves (chord changes, a bass note moving);
- `bass`: the rise of the mel bands under BASS_HZ: kicks and bass notes;
- `change`: new pitches, however slowly they swell (a choir, bowed strings, a
  flute: notes with no attack for the onsets to hear), vibrato ignored;
- `chroma`: pitch classes per frame, for the bars; `key_chroma` for the key.

One frame is HOP samples at the clip's rate (23 ms at 22.05 kHz).
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np
import scipy.ndimage

HOP = 512
FMIN_MIDI = 24  # C1
PER_OCTAVE = 36
OCTAVES = 7
N_MELS = 128
BASS_HZ = 200.0  # kicks and bass notes sit under it; a chord's low notes mostly above


@dataclass(frozen=True)
class Heard:
    sr: int
    frames: int
    onsets: np.ndarray  # librosa's onset strength, as it is (pulse.ONSET_FLOOR reads it)
    harmony: np.ndarray
    bass: np.ndarray
    chroma: np.ndarray  # (12, frames), C first, each frame's loudest 1
    level_db: np.ndarray  # per frame, dB
    key_chroma: np.ndarray  # (12, frames), a third of a semitone a bin before folding
    change: np.ndarray  # new pitches sounding (see `note_change`), scaled to its 95th percentile
    fine_onsets: np.ndarray  # librosa's onset strength through a 1024-point window

    @property
    def fps(self) -> float:
        return self.sr / HOP


def _scaled(x: np.ndarray) -> np.ndarray:
    scale = np.percentile(x, 95) if len(x) else 0.0
    return x / scale if scale > 1e-9 else np.zeros_like(x)


# The windows `note_change` compares either side of a frame (5 frames: 116 ms, the
# length of a slow attack), and how far (in constant-Q bins, a third of a semitone
# each) a pitch may wander and still count as the same note (vibrato).
CHANGE_FRAMES = 5
VIBRATO_BINS = 3


def note_change(c: np.ndarray) -> np.ndarray:
    """Where new pitches begin, however slowly they swell: the log constant-Q
    spectrum's rise from the CHANGE_FRAMES before a frame to the CHANGE_FRAMES
    after it, each bin against the loudest of its VIBRATO_BINS neighbours before
    (SuperFlux's maximum filter: a vibrato or a bow's wobble is no new note)."""
    log = np.log1p(100.0 * c / (c.max() + 1e-12))
    mean = scipy.ndimage.uniform_filter1d(log, CHANGE_FRAMES, axis=1, mode="nearest")
    n, half = log.shape[1], CHANGE_FRAMES // 2
    index = np.arange(n)
    after = mean[:, np.clip(index + half, 0, n - 1)]
    earlier = mean[:, np.clip(index - half - 1, 0, n - 1)]
    before = scipy.ndimage.maximum_filter1d(earlier, VIBRATO_BINS, axis=0)
    return np.maximum(0.0, after - before).sum(axis=0)


def hear(y: np.ndarray, sr: int) -> Heard:
    """The onsets, the pitch classes and the envelopes of a mono clip."""
    mel = librosa.power_to_db(
        librosa.feature.melspectrogram(y=y, sr=sr, n_fft=2048, hop_length=HOP, n_mels=N_MELS), ref=np.max
    )
    frames = mel.shape[1]
    onsets = librosa.onset.onset_strength(S=mel, sr=sr)
    fine = librosa.power_to_db(
        librosa.feature.melspectrogram(y=y, sr=sr, n_fft=1024, hop_length=HOP, n_mels=N_MELS), ref=np.max
    )
    fine_onsets = librosa.onset.onset_strength(S=fine, sr=sr)
    low = librosa.mel_frequencies(n_mels=N_MELS, fmax=sr / 2) < BASS_HZ
    bass = librosa.onset.onset_strength(S=mel[low], sr=sr)
    # The key's chroma: fine in pitch (constant-Q, long windows in the bass).
    c = np.abs(
        librosa.cqt(
            y,
            sr=sr,
            hop_length=HOP,
            fmin=librosa.midi_to_hz(FMIN_MIDI),
            n_bins=OCTAVES * PER_OCTAVE,
            bins_per_octave=PER_OCTAVE,
        )
    )
    key_chroma = librosa.feature.chroma_cqt(
        C=c, sr=sr, hop_length=HOP, bins_per_octave=PER_OCTAVE, n_chroma=12
    )
    # The beats' chroma: fine in time (a 186 ms window).
    power = np.abs(librosa.stft(y, n_fft=4096, hop_length=HOP)) ** 2
    chroma = librosa.feature.chroma_stft(S=power, sr=sr, n_fft=4096, tuning=0.0)
    n = min(frames, c.shape[1], chroma.shape[1])
    smooth = scipy.ndimage.uniform_filter1d(
        chroma / (chroma.sum(axis=0, keepdims=True) + 1e-9), size=3, axis=1
    )
    harmony = np.r_[0.0, np.maximum(0.0, smooth[:, 1:] - smooth[:, :-1]).sum(axis=0)]
    level = 10 * np.log10(np.mean(c**2, axis=0) + 1e-12)
    return Heard(
        sr,
        n,
        onsets[:n],
        _scaled(harmony[:n]),
        _scaled(bass[:n]),
        chroma[:, :n],
        level[:n],
        key_chroma[:, :n],
        _scaled(note_change(c)[:n]),
        fine_onsets[:n],
    )
