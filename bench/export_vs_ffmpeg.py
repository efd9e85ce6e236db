"""Export benchmark: a 3-minute spine of 5 clips rendered to WAV through a real
Export service process (Render over gRPC, clips streamed in, the file streamed
back and written to disk) against the `ffmpeg` program's concat demuxer on the
same clip files, in this one run.

The like-for-like line uses crossfade 0 and normalize off, which is what the
concat demuxer does; the second line (crossfade 500 ms + normalize) is for
information. Each figure is the median of --repeats runs after one warm-up,
the two sides alternating. ffmpeg's time includes starting the program; the
service's includes reading and sending the clips and receiving and writing the
file. Both files are checked to hold the same samples.

    .venv/bin/python bench/export_vs_ffmpeg.py [--clips 5] [--seconds 36] [--repeats 5]

Needs `ffmpeg` on PATH (`apt-get install -y ffmpeg`). Nothing else should run on
the machine meanwhile.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import numpy as np
from sparrow.v1 import export_pb2, export_pb2_grpc

from sparrow_common.audio import decode, split
from sparrow_common.processes import ServiceProcess, free_port, grpc_serving
from sparrow_common.testing.clips import make_clip

RATE = 32000


def render_via_service(stub, paths: list[Path], out: Path, crossfade_ms: int, normalize: bool) -> float:
    """Seconds for one Render: read the clip files, stream them, write the file."""

    def requests():
        yield export_pb2.RenderRequest(
            setup=export_pb2.RenderSetup(
                format=export_pb2.RENDER_FORMAT_WAV,
                clip_count=len(paths),
                crossfade_ms=crossfade_ms,
                normalize=normalize,
            )
        )
        for index, path in enumerate(paths):
            for chunk in split(path.read_bytes()):
                yield export_pb2.RenderRequest(clip_chunk=export_pb2.ClipChunk(clip=index, data=chunk))

    started = time.perf_counter()
    with open(out, "wb") as file:
        for reply in stub.Render(requests(), timeout=300):
            if reply.WhichOneof("part") == "chunk":
                file.write(reply.chunk.data)
    return time.perf_counter() - started


def render_via_ffmpeg(ffmpeg: str, listing: Path, out: Path) -> float:
    """Seconds for `ffmpeg -f concat` of the same clips to a 16-bit WAV."""
    command = [ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "concat", "-safe", "0",
               "-i", str(listing), "-c:a", "pcm_s16le", str(out)]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=36.0, help="length of each clip")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        sys.exit("the ffmpeg program is not on PATH: apt-get install -y ffmpeg")
    version = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True).stdout.split(" Copyright")[0]

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = []
        for index in range(args.clips):
            path = root / f"clip{index}.wav"
            path.write_bytes(make_clip("wav", args.seconds, RATE, 1))
            paths.append(path)
        listing = root / "clips.txt"
        listing.write_text("".join(f"file '{path}'\n" for path in paths))
        expected = args.clips * int(args.seconds * RATE)

        port = free_port()
        service = ServiceProcess(
            "export", "sparrow_export", {"EXPORT_PORT": str(port), "EXPORT_LOG_LEVEL": "WARNING"}, root
        )
        try:
            service.start().wait_until(lambda: grpc_serving(f"127.0.0.1:{port}"))
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = export_pb2_grpc.ExportServiceStub(channel)
                ours, theirs = root / "service.wav", root / "ffmpeg.wav"
                render_via_service(stub, paths, ours, 0, False)  # warm up
                render_via_ffmpeg(ffmpeg, listing, theirs)
                service_s, ffmpeg_s, shaped_s = [], [], []
                for _ in range(args.repeats):
                    service_s.append(render_via_service(stub, paths, ours, 0, False))
                    ffmpeg_s.append(render_via_ffmpeg(ffmpeg, listing, theirs))
                ours_audio, theirs_audio = decode(ours, RATE, 1), decode(theirs, RATE, 1)
                assert ours_audio.shape[-1] == theirs_audio.shape[-1] == expected
                # the same file's worth of audio, to the last bit of 16-bit PCM
                assert np.abs(ours_audio - theirs_audio).max() <= 1 / 32768
                shaped = root / "shaped.wav"
                render_via_service(stub, paths, shaped, 500, True)  # warm up
                for _ in range(args.repeats):
                    shaped_s.append(render_via_service(stub, paths, shaped, 500, True))
                samples = decode(shaped, RATE, 1).shape[-1]
                assert samples == expected - (args.clips - 1) * RATE // 2, samples
        finally:
            service.stop()

    service_t, ffmpeg_t, shaped_t = (statistics.median(s) for s in (service_s, ffmpeg_s, shaped_s))
    spine_s = args.clips * args.seconds
    print(f"{args.clips} clips x {args.seconds:g} s = {spine_s:g} s spine, {RATE} Hz mono WAV -> WAV; "
          f"median of {args.repeats}; {version}")
    print(f"crossfade 0, normalize off: Export service {service_t:.3f} s, ffmpeg concat demuxer "
          f"{ffmpeg_t:.3f} s: ratio {service_t / ffmpeg_t:.2f} (target <= 1.0)")
    print(f"crossfade 500 ms + normalize (for information): Export service {shaped_t:.3f} s "
          f"({shaped_t / ffmpeg_t:.2f} x the plain ffmpeg concat)")


if __name__ == "__main__":
    main()
