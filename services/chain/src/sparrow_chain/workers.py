"""Calls to the workers (GenerationService, StemsService), the only part of the
chain service's dispatcher that speaks their protocol: requests built from the
job's data, and replies read into one shape, whichever worker sent them
(`queued`, `progress`, `chunk`, `done` are named alike in both protocols)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict
from sparrow.v1 import analysis_pb2, analysis_pb2_grpc, common_pb2, generation_pb2, generation_pb2_grpc, stems_pb2, stems_pb2_grpc

from sparrow_chain.domain import GenerationParams
from sparrow_chain.grid import PathGrid
from sparrow_common import request_id
from sparrow_common.audio import split
from sparrow_common.channels import open_channel
from sparrow_common.convert import params_to_pb


@dataclass(frozen=True)
class Progress:
    step: int
    total: int
    eta_s: float | None


@dataclass(frozen=True)
class Chunk:
    # Which file it belongs to: a take's index, or a stem's name.
    key: Any
    data: bytes


@dataclass(frozen=True)
class Done:
    # Every file the worker sent: the takes' indexes, or the stems' names.
    keys: list
    # What the worker answered besides files (an analysis), as plain data.
    result: Any = None


class Worker:
    """One worker service: its long-lived channel and its calls."""

    def __init__(self, service: str, address: str, stub_class):
        self.service = service
        self.address = address
        self.channel = open_channel(address)
        self.stub = stub_class(self.channel)

    async def close(self) -> None:
        await self.channel.close()

    async def replies(self, call) -> AsyncIterator[Progress | Chunk | Done]:
        """The call's replies as Progress, Chunk and Done (a wait in line is not passed on)."""
        async for reply in call:
            part = reply.WhichOneof("part")
            if part == "progress":
                yield Progress(reply.progress.step, max(reply.progress.total, 1), reply.progress.eta_s or None)
            elif part == "chunk":
                yield Chunk(self.file_of(reply.chunk), reply.chunk.data)
            elif part == "done":
                yield Done(self.files_in(reply.done), self.result_of(reply.done))

    def file_of(self, chunk) -> Any:
        """Which file a chunk belongs to."""
        raise NotImplementedError

    def files_in(self, done) -> list:
        """Every file the call's `done` lists."""
        return []

    def result_of(self, done) -> Any:
        """What `done` says besides files."""
        return None


class GenerationWorker(Worker):
    def __init__(self, address: str):
        super().__init__("generation", address, generation_pb2_grpc.GenerationServiceStub)

    def file_of(self, chunk) -> int:
        return chunk.take

    def files_in(self, done) -> list[int]:
        return [take.take for take in done.takes]

    def generate(
        self, params: GenerationParams, seeds: list[int], context: bytes, melody: bytes | None, deadline_s: float
    ) -> grpc.aio.StreamStreamCall:
        """Takes continuing `context` (a WAV), one per seed, following `melody` (a WAV) when given."""

        async def requests():
            yield generation_pb2.GenerateRequest(
                setup=generation_pb2.GenerateSetup(params=params_to_pb(params), seeds=seeds, output_format="wav")
            )
            for chunk in split(context):
                yield generation_pb2.GenerateRequest(context_chunk=common_pb2.AudioChunk(data=chunk))
            for chunk in split(melody or b""):
                yield generation_pb2.GenerateRequest(melody_chunk=common_pb2.AudioChunk(data=chunk))

        return self.stub.Generate(requests(), timeout=deadline_s, metadata=request_id.metadata())


class StemsWorker(Worker):
    def __init__(self, address: str):
        super().__init__("stems", address, stems_pb2_grpc.StemsServiceStub)

    def file_of(self, chunk) -> str:
        return chunk.stem

    def files_in(self, done) -> list[str]:
        return list(done.stems)

    def separate(self, audio: AsyncIterator[bytes], model: str, deadline_s: float) -> grpc.aio.StreamStreamCall:
        """The stems by `model` of the audio file whose bytes `audio` yields, as WAVs."""

        async def requests():
            yield stems_pb2.SeparateRequest(setup=stems_pb2.SeparateSetup(output_format="wav", model=model))
            async for data in audio:
                yield stems_pb2.SeparateRequest(chunk=common_pb2.AudioChunk(data=data))

        return self.stub.Separate(requests(), timeout=deadline_s, metadata=request_id.metadata())


class AnalysisWorker(Worker):
    def __init__(self, address: str):
        super().__init__("analysis", address, analysis_pb2_grpc.AnalysisServiceStub)

    def analyze(
        self, clip: AsyncIterator[bytes], context: bytes | None, deadline_s: float, path_grid: PathGrid | None = None
    ) -> grpc.aio.StreamStreamCall:
        """What the analysis worker hears in the clip (an audio file whose bytes
        `clip` yields) and, with `context` (the path it continues, a WAV), at its
        seam, measured against `path_grid` (the path's grid on the context's
        clock) when given."""
        setup = analysis_pb2.AnalyzeSetup()
        if path_grid is not None:
            setup.path_grid.CopyFrom(analysis_pb2.PathGrid(beats_s=path_grid.beats_s, key=path_grid.key))
            if path_grid.tempo_bpm is not None:
                setup.path_grid.tempo_bpm = path_grid.tempo_bpm

        async def requests():
            yield analysis_pb2.AnalyzeRequest(setup=setup)
            async for data in clip:
                yield analysis_pb2.AnalyzeRequest(chunk=common_pb2.AudioChunk(data=data))
            for chunk in split(context or b""):
                yield analysis_pb2.AnalyzeRequest(context_chunk=common_pb2.AudioChunk(data=chunk))

        return self.stub.Analyze(requests(), timeout=deadline_s, metadata=request_id.metadata())

    def result_of(self, done) -> dict:
        """{"clip": {...}, "seam": {...} or None}, every field named as in the protocol."""

        def plain(message) -> dict:
            return MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)

        clip = plain(done.analysis)
        for name in ("tempo_bpm", "loudness_lufs", "peak_dbfs"):
            clip.setdefault(name, None)
        for name in ("meter", "key", "time_signature", "key_runner_up"):
            clip[name] = clip[name] or None
        seam = None
        if done.HasField("seam"):
            seam = plain(done.seam)
            for name in ("tempo_change_pct", "beat_offset_ms", "loudness_step_db"):
                seam.setdefault(name, None)
            for name in ("key_match", "weakest", "unjudged"):
                seam[name] = seam[name] or None
        return {"clip": clip, "seam": seam}
