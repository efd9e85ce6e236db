"""A take's seam is heard against its path's grid as the chain uses it: the
chain service, a tiny random MusicGen and the real analysis worker in process,
the worker's requests read as they arrive."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from sparrow.v1 import chain_pb2, chain_pb2_grpc, common_pb2

from sparrow_chain.config import Settings
from sparrow_chain.kinds.analysis import SEAM_CONTEXT_S
from sparrow_chain.server import build_server
from sparrow_common.audio import encode_wav
from sparrow_common.testing.chain import upload
from sparrow_common.testing.songs import song

RATE = 32000


@pytest.fixture
def setups(monkeypatch) -> list:
    """Every AnalyzeSetup the analysis worker receives, in order."""
    from sparrow_analysis.servicer import AnalysisServicer

    received = []
    answer = AnalysisServicer.Analyze

    async def reading(self, request_iterator, context):
        async def requests():
            async for message in request_iterator:
                if message.WhichOneof("part") == "setup":
                    received.append(message.setup)
                yield message

        async for reply in answer(self, requests(), context):
            yield reply

    monkeypatch.setattr(AnalysisServicer, "Analyze", reading)
    return received


async def _heard(stub, node_id: str):
    """The node once its analysis is ready."""
    deadline = time.monotonic() + 120
    while True:
        node = (await stub.GetNode(chain_pb2.GetNodeRequest(node_id=node_id), timeout=5)).node
        if node.analysis.status == chain_pb2.ANALYSIS_STATUS_READY:
            return node
        assert node.analysis.status != chain_pb2.ANALYSIS_STATUS_ERROR, node.analysis.error_message
        assert time.monotonic() < deadline, f"node {node_id} was never heard"
        await asyncio.sleep(0.1)


async def test_a_takes_seam_is_heard_against_the_corrected_grid_and_again_after_a_change(tmp_path, tiny_musicgen, setups):
    from sparrow_analysis.config import Settings as AnalysisSettings
    from sparrow_analysis.server import build_server as build_analysis
    from sparrow_generation.config import Settings as GenerationSettings
    from sparrow_generation.server import build_server as build_generation

    generation = await build_generation(
        GenerationSettings(host="127.0.0.1", port=0, model=str(tiny_musicgen), window_s=4.0, stride_s=2.4, metrics_port=0)
    )
    analysis = await build_analysis(AnalysisSettings(host="127.0.0.1", port=0, metrics_port=0))
    await asyncio.wait_for(asyncio.gather(asyncio.shield(generation.loading), asyncio.shield(analysis.loading)), 120)
    chain = await build_server(
        Settings(
            host="127.0.0.1", port=0, database_url=f"sqlite:///{tmp_path}/sparrow.db", blob_dir=str(tmp_path / "blobs"),
            generation_addr=f"127.0.0.1:{generation.running.port}", analysis_addr=f"127.0.0.1:{analysis.running.port}",
            watch_poll_s=0.2, retry_base_s=0.2, lease_s=6,
        )
    )
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{chain.running.port}") as channel:
            stub = chain_pb2_grpc.ChainServiceStub(channel)
            # 16 s at 120 bpm in 4/4, in C major.
            clip = encode_wav(song(120.0, 4, "C major", bars=8, sample_rate=RATE, seed=3)[None], RATE)
            created = await stub.CreateChain(upload(clip), timeout=30)
            root = await _heard(stub, created.root.id)
            said = chain_pb2.GridCorrection(tempo_bpm=100.0, time_signature="3/4", bar_one_s=0.5, key="A minor")
            corrected = (await stub.SetGrid(chain_pb2.SetGridRequest(node_id=root.id, correction=said), timeout=10)).node
            knobs = common_pb2.Knobs(duration_s=1.0, prompt_duration_s=1.0, seed=1)
            (take,) = (await stub.CreateTakes(chain_pb2.CreateTakesRequest(parent_id=root.id, knobs=knobs, count=1), timeout=5)).nodes
            await _heard(stub, take.id)

            # The root was heard alone; the take against the path's grid, on the context's clock.
            assert not setups[0].HasField("path_grid")
            sent = setups[-1].path_grid
            start = root.audio.duration_s - SEAM_CONTEXT_S
            expected = [b - start for b in corrected.grid.beats_s if b >= start]
            assert (sent.tempo_bpm, sent.key) == (100.0, "A minor")
            assert list(sent.beats_s) == pytest.approx(expected, abs=1e-5) and len(expected) == 20

            # A new word on the grid: the take is heard again, against it.
            said = chain_pb2.GridCorrection(key="D minor")
            await stub.SetGrid(chain_pb2.SetGridRequest(node_id=root.id, correction=said), timeout=10)
            deadline = time.monotonic() + 60
            while not (setups[-1].path_grid.key == "D minor"):
                assert time.monotonic() < deadline, "the take was not heard again"
                await asyncio.sleep(0.1)
            again = setups[-1].path_grid
            assert again.tempo_bpm == pytest.approx(root.analysis.clip.tempo_bpm, abs=1e-3)  # as heard, but the key
            await _heard(stub, take.id)
    finally:
        await chain.close()
        await generation.close()
        await analysis.close()
