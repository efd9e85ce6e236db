"""Asks every GPU worker how busy it is, for GET /api/gpu."""

from __future__ import annotations

import asyncio
import socket

import grpc
from sparrow.v1 import generation_pb2, generation_pb2_grpc

from sparrow_common.channels import open_channel
from sparrow_gateway.config import Settings

TIMEOUT_S = 2.0


def _expand(address: str) -> list[str]:
    """host:port to one address per resolved IP (every pod of a headless Service)."""
    host, _, port = address.rpartition(":")
    try:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    except (socket.gaierror, ValueError):
        return [address]
    ips = sorted({info[4][0] for info in infos})
    return [f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}" for ip in ips] or [address]


class CapacityClient:
    def __init__(self, settings: Settings):
        self.addresses = [a.strip() for a in settings.generation_addrs.split(",") if a.strip()]
        self._channels: dict[str, grpc.aio.Channel] = {}

    def _stub(self, address: str) -> generation_pb2_grpc.GenerationServiceStub:
        if address not in self._channels:
            self._channels[address] = open_channel(address)
        return generation_pb2_grpc.GenerationServiceStub(self._channels[address])

    async def generation(self) -> list[dict]:
        """One entry per worker: its slots, busy, queued, model, device, or why it
        can't be asked."""
        targets = [a for address in self.addresses for a in await asyncio.to_thread(_expand, address)]
        return list(await asyncio.gather(*(self._ask(a) for a in targets)))

    async def _ask(self, address: str) -> dict:
        try:
            reply = await self._stub(address).GetCapacity(generation_pb2.GetCapacityRequest(), timeout=TIMEOUT_S)
        except grpc.aio.AioRpcError as error:
            return {"address": address, "reachable": False, "ready": False, "reason": f"unreachable ({error.code().name})"}
        c = reply.capacity
        return {
            "address": address, "reachable": True, "ready": c.ready, "reason": c.reason or None,
            "worker": c.worker, "slots": c.slots, "busy": c.busy, "queued": c.queued,
            "queue_limit": c.queue_limit, "model": c.model, "device": c.device,
        }

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
