"""How well Sparrow hears: tempo, beats, bars, meter and key against the truth.

Two sets: pieces played on sampled instruments (sparrow_common.testing.pieces:
MIDI rendered by fluidsynth on the GM soundfont, seeded, rendered in the run) and
the synthesised songs the suite already has (sparrow_common.testing.songs).
Figures, per set:

- tempo right: within 4% of the beat's tempo (the dotted quarter in 6/8 and
  12/8); exactly double or half (within 4%) counted apart, as wrong;
- beat and downbeat F-measure (mir_eval, 70 ms window, the whole clip);
- meter right: the time signature (an engine that only says beats to the bar
  is read as 3/4 or 4/4);
- MIREX's weighted key score (1 exact, 0.5 a fifth, 0.3 relative, 0.2 parallel);
- null: pieces with no pulse that are said to have no tempo;
- seconds of analysis per minute of audio.

    .venv/bin/python bench/listening.py [--count 48] [--seed 0 [2 ...]] [--verbose]

While tuning: `--only six-eight` measures only the pieces whose name holds that
(style, signature, "drums"...), `--songs 0` skips the songs, and `--cache DIR`
keeps the rendered audio between runs (fluidsynth's renders are most of a run).

To measure another checkout's engine (today's, say), put its src first:

    git worktree add /tmp/base HEAD
    PYTHONPATH=/tmp/base/services/analysis/src .venv/bin/python bench/listening.py
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from pathlib import Path

import mir_eval
import numpy as np

import sparrow_analysis
from sparrow_analysis.engine.listener import RATE, analyze
from sparrow_common.testing.pieces import pieces, render
from sparrow_common.testing.songs import song

warnings.filterwarnings("ignore", module="mir_eval")
SPELLED = {"D#": "Eb", "A#": "Bb", "G#": "Ab", "Db": "C#", "Gb": "F#"}


def _signature(a) -> str | None:
    said = getattr(a, "time_signature", None)
    if said:
        return said
    return {2: "2/4", 3: "3/4", 4: "4/4"}.get(a.meter) if a.meter else None


def _key_score(truth: str, heard: str | None) -> float:
    if heard is None:
        return 0.0
    return float(mir_eval.key.weighted_score(truth, heard))


def _f(truth: list[float], heard: list[float]) -> float:
    if not truth:
        return float("nan")
    if not heard:
        return 0.0
    return float(mir_eval.beat.f_measure(np.array(truth), np.array(heard), 0.07))


def song_cases(count: int = 36):
    """The suite's songs (as tests/test_listening.py makes them): 70 to 160 bpm,
    every third in 3/4, every tonic, major and minor."""
    tonics = ["C", "D", "D#", "E", "F", "G", "A", "A#", "B", "F#", "C#", "G#"]
    rng = np.random.default_rng(0)
    for i in range(count):
        tonic, mode = tonics[i % 12], "major" if i % 2 == 0 else "minor"
        tempo, meter = float(rng.uniform(70, 160)), 3 if i % 3 == 0 else 4
        y = song(tempo, meter, f"{tonic} {mode}", bars=6, sample_rate=RATE, seed=i)
        beat = 60 / tempo
        beats = [k * beat for k in range(6 * meter)]
        yield (
            f"song {tempo:.1f} bpm {meter}/4 {tonic} {mode}",
            y,
            tempo,
            f"{meter}/4",
            beats,
            beats[::meter],
            f"{SPELLED.get(tonic, tonic)} {mode}",
        )


def piece_cases(count: int, seeds: list[int], only: str | None = None, cache: Path | None = None):
    for seed in seeds:
        for p in pieces(count, seed=seed):
            if only is None or only in p.name:
                name = p.name if len(seeds) == 1 else f"s{seed} {p.name}"
                y = render(p, RATE, cache)
                yield name, y, p.tempo_bpm, p.time_signature, p.beats_s, p.downbeats_s, p.key


def measure(cases, verbose: bool) -> dict:
    rows, spent, minutes = [], 0.0, 0.0
    for name, y, tempo, signature, beats, downbeats, key in cases:
        started = time.perf_counter()
        a = analyze(y, RATE)
        spent += time.perf_counter() - started
        minutes += len(y) / RATE / 60
        row = {"name": name, "pulse": tempo is not None, "heard": a}
        if tempo is None:
            row["null"] = a.tempo_bpm is None
        else:
            ratio = (a.tempo_bpm or 0) / tempo
            row["right"] = abs(ratio - 1) <= 0.04
            row["octave"] = min(abs(ratio - 2), abs(ratio - 0.5) * 2) <= 0.08
            row["beat_f"] = _f(beats, a.beats_s)
            row["downbeat_f"] = _f(downbeats, a.downbeats_s)
            row["meter"] = _signature(a) == signature
        if key is not None:
            row["key"] = _key_score(key, a.key)
        rows.append(row)
        if verbose:
            flags = " ".join(k for k in ("right", "octave", "meter", "null") if row.get(k))
            print(
                f"  {name:58s} -> {a.tempo_bpm} bpm {_signature(a)} {a.key} | "
                f"beatF {row.get('beat_f', float('nan')):.2f} "
                f"downF {row.get('downbeat_f', float('nan')):.2f} "
                f"key {row.get('key', float('nan')):.1f} {flags}"
            )
    pulsed = [r for r in rows if r["pulse"]]
    unpulsed = [r for r in rows if not r["pulse"]]
    keyed = [r["key"] for r in rows if "key" in r]
    return {
        "pieces": len(rows),
        "tempo right": f"{sum(r['right'] for r in pulsed)}/{len(pulsed)}",
        "tempo right %": 100 * sum(r["right"] for r in pulsed) / max(len(pulsed), 1),
        "double or half": sum(r["octave"] for r in pulsed),
        "no tempo said": sum(r["heard"].tempo_bpm is None for r in pulsed),
        "beat F": statistics.mean(r["beat_f"] for r in pulsed) if pulsed else float("nan"),
        "downbeat F": statistics.mean(r["downbeat_f"] for r in pulsed) if pulsed else float("nan"),
        "meter right %": 100 * sum(r["meter"] for r in pulsed) / max(len(pulsed), 1),
        "key (MIREX)": statistics.mean(keyed) if keyed else float("nan"),
        "key exact %": 100 * sum(k == 1.0 for k in keyed) / max(len(keyed), 1),
        "null on no pulse": f"{sum(r['null'] for r in unpulsed)}/{len(unpulsed)}",
        "s per minute": spent / max(minutes, 1e-9),
    }


def show(title: str, figures: dict) -> None:
    print(title)
    for name, value in figures.items():
        print(f"  {name:18s} {value:.3f}" if isinstance(value, float) else f"  {name:18s} {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=48)
    parser.add_argument("--seed", type=int, nargs="+", default=[0])
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--songs", type=int, default=36)
    parser.add_argument("--only", help="only the pieces whose name holds this")
    parser.add_argument("--cache", type=Path, help="a folder keeping the rendered pieces between runs")
    args = parser.parse_args()
    if args.cache:
        args.cache.mkdir(parents=True, exist_ok=True)
    print(f"engine: {sparrow_analysis.__file__}")
    first = render(pieces(8, seed=0)[0], RATE, args.cache)
    analyze(first[: 4 * RATE], RATE)  # numba's kernels, compiled once
    seeds = " ".join(map(str, args.seed))
    show(
        f"pieces on sampled instruments ({args.count} a seed, seed {seeds})",
        measure(piece_cases(args.count, args.seed, args.only, args.cache), args.verbose),
    )
    show(f"synthesised songs ({args.songs})", measure(song_cases(args.songs), args.verbose))


if __name__ == "__main__":
    main()
