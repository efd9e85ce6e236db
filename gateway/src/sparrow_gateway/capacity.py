"""Asks every GPU worker how busy it is, for GET /api/gpu."""

from __future__ import annotations

import asyncio
import socket
import time

import grpc
from sparrow.v1 import generation_pb2, generation_pb2_grpc, stems_pb2, stems_pb2_grpc

from sparrow_common.channels import open_channel
from sparrow_common.errors import MODEL_LOADING
from sparrow_gateway.config import Settings

TIMEOUT_S = 2.0
# A worker not answered yet this long after the gateway started is taken to be
# starting, not down: `make run` starts them side by side, and a generation
# worker imports for some seconds before it listens.
STARTING_S = 120.0


def _expand(address: str) -> list[str]:
    """host:port (or a gRPC dns:///host:port target) to one address per resolved
    IP (every pod of a headless Service)."""
    host, _, port = address.removeprefix("dns:").lstrip("/").rpartition(":")
    try:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    except (socket.gaierror, ValueError):
        return [address]
    ips = sorted({info[4][0] for info in infos})
    return [f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}" for ip in ips] or [address]


def _addresses(config: str) -> list[str]:
    return [a.strip() for a in config.split(",") if a.strip()]


def _stem_models(reply) -> dict:
    """A stems worker's models, the default first, with their stems (or why not)."""
    return {"models": [{"name": m.name, "stems": list(m.stems), "reason": m.reason or None} for m in reply.models]}


def state(reachable: bool, ready: bool, reason: str | None, seen: bool, starting: bool) -> str:
    """What a musician is told of a worker: "ready", "loading" (its model),
    "starting" (not answering yet, never answered, and the gateway itself just
    started), "failed" (it answers, and says why it can't work) or "unreachable"."""
    if reachable:
        return "ready" if ready else "loading" if reason == MODEL_LOADING else "failed"
    return "starting" if starting and not seen else "unreachable"


class CapacityClient:
    def __init__(self, settings: Settings, clock=time.monotonic):
        self.generation_addrs = _addresses(settings.generation_addrs)
        self.stems_addrs = _addresses(settings.stems_addrs)
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._clock = clock
        self._started = clock()
        self._seen: set[str] = set()  # the addresses that have answered once

    def _channel(self, address: str) -> grpc.aio.Channel:
        if address not in self._channels:
            self._channels[address] = open_channel(address)
        return self._channels[address]

    async def generation(self) -> list[dict]:
        """One entry per generation worker: its slots, busy, queued, model,
        device, whether it takes a melody, or why it can't be asked."""
        return await self._survey(self.generation_addrs, self._ask_generation)

    async def stems(self) -> list[dict]:
        """The same for the stems workers."""
        return await self._survey(self.stems_addrs, self._ask_stems, _stem_models)

    async def _survey(self, addresses: list[str], ask, more=lambda reply: {}) -> list[dict]:
        """Each worker's capacity, and what `more(reply)` adds for its kind."""
        targets = [a for address in addresses for a in await asyncio.to_thread(_expand, address)]
        return list(await asyncio.gather(*(self._ask(a, ask, more) for a in targets)))

    async def _ask_generation(self, address: str):
        stub = generation_pb2_grpc.GenerationServiceStub(self._channel(address))
        return await stub.GetCapacity(generation_pb2.GetCapacityRequest(), timeout=TIMEOUT_S)

    async def _ask_stems(self, address: str):
        stub = stems_pb2_grpc.StemsServiceStub(self._channel(address))
        return await stub.GetCapacity(stems_pb2.StemsServiceGetCapacityRequest(), timeout=TIMEOUT_S)

    async def _ask(self, address: str, ask, more) -> dict:
        try:
            reply = await ask(address)
        except grpc.aio.AioRpcError as error:
            starting = self._clock() - self._started < STARTING_S
            return {
                "address": address, "reachable": False, "ready": False,
                "state": state(False, False, None, address in self._seen, starting),
                "reason": f"unreachable ({error.code().name})",
            }
        self._seen.add(address)
        c = reply.capacity
        return {
            "address": address, "reachable": True, "ready": c.ready,
            "state": state(True, c.ready, c.reason or None, True, False), "reason": c.reason or None,
            "worker": c.worker, "slots": c.slots, "busy": c.busy, "queued": c.queued,
            "queue_limit": c.queue_limit, "model": c.model, "device": c.device,
            "supports_melody": c.supports_melody,
            "rows_in_flight": c.rows_in_flight, "steps_per_second": c.steps_per_second,
            **more(reply),
        }

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
