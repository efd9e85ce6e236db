"""The gateway tells a load balancer the truth when the chain service is away."""

import httpx

from sparrow_common.processes import free_port
from sparrow_gateway.accounts import Tier, entry, new_key
from sparrow_gateway.config import Settings
from sparrow_gateway.main import create_app


async def test_not_ready_and_503_when_the_chain_service_is_down():
    key = new_key()
    settings = Settings(
        chain_addr=f"127.0.0.1:{free_port()}", generation_addrs=f"127.0.0.1:{free_port()}", rpc_timeout_s=1.0,
        api_keys=entry(key, "ann", Tier.PAID),
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway", headers={"X-API-Key": key}) as client:
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/readyz")).status_code == 503
            reply = await client.get("/api/chains")
            assert reply.status_code in (503, 504)
            assert "not answering" in reply.json()["detail"]
            (worker,) = (await client.get("/api/gpu")).json()["generation"]
            assert not worker["reachable"] and "unreachable" in worker["reason"]
            assert worker["state"] == "starting"  # never answered, the gateway just started
