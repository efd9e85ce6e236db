"""What listening costs: the analysis worker's time per minute of audio, on CPU.

A 3-minute song with a known tempo, meter and key (sparrow_common.testing.songs)
is analysed in-process (tempo, beats, bars, key, loudness), after a warm-up that
compiles librosa's kernels; then a 30 s take's seam report against the path's
last 12 s. Each figure is the median of 3 runs. Target: under 2 s per minute.

    .venv/bin/python bench/analysis.py

Nothing else should run on the machine meanwhile.
"""

from __future__ import annotations

import statistics
import threading
import time

from sparrow_analysis.engine.listener import RATE, analyze, mono
from sparrow_analysis.engine.listening import Listener
from sparrow_common.testing.songs import song

REPEATS = 3


def timed(fn) -> float:
    runs = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> None:
    listener = Listener()
    listener.load()
    tempo = 112.0
    bars = int(180 / (4 * 60 / tempo))
    minutes = song(tempo, 4, "D minor", bars=bars, sample_rate=44100, seed=2)
    seconds = len(minutes) / 44100
    heard = analyze(minutes, 44100)
    whole = timed(lambda: analyze(minutes, 44100))
    path, take = minutes[None, : 60 * 44100], minutes[None, 60 * 44100 : 90 * 44100]
    seam = timed(lambda: listener.hear(mono(take, 44100)[None], mono(path, 44100)[None], None,
                                          lambda *_: None, threading.Event()))
    print(f"a {seconds:.0f} s song at 44.1 kHz: heard as {heard.tempo_bpm} bpm, {heard.time_signature}, {heard.key}, "
          f"{heard.loudness_lufs} LUFS")
    print(f"analysis: {whole:.2f} s, {whole / (seconds / 60):.2f} s per minute of audio (target < 2)")
    print(f"a 30 s take's analysis and seam report against its path: {seam:.2f} s (at {RATE} Hz)")


if __name__ == "__main__":
    main()
