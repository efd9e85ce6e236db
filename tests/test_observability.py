"""What an operator reads: one request id in every service's JSON log lines for
one user action, and each service's Prometheus metrics."""

from __future__ import annotations

import json
import uuid

import pytest

from sparrow_common.testing.clips import make_clip
from sparrow_common.testing.metrics import metric


@pytest.fixture(scope="module")
def stack(quiet_stack):
    """The stack whose generation worker only this module's takes use while it
    runs: its tests read the worker's rows and queue."""
    return quiet_stack


def log_lines(stack, service: str) -> list[dict]:
    path = stack.root / f"{service}.log"
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def test_one_request_id_runs_from_the_gateway_through_the_chain_to_the_worker(stack):
    request_id = f"take-{uuid.uuid4().hex[:8]}"
    with stack.client() as client:
        root = client.post("/api/chains", files={"file": ("idea.wav", make_clip("wav", seconds=2.0))}).json()["root"]
        asked = client.post(
            f"/api/nodes/{root['id']}/takes", json={"count": 2, "duration_s": 1.0}, headers={"X-Request-ID": request_id}
        )
        assert asked.status_code == 202 and asked.headers["x-request-id"] == request_id
        for node in asked.json()["nodes"]:
            assert stack.wait_for(node["id"])["status"] == "ready"
        # Without one, or with a bad one, the gateway makes its own.
        fresh = client.get("/api/chains").headers["x-request-id"]
        replaced = client.get("/api/chains", headers={"X-Request-ID": "no spaces or\tcontrols"}).headers["x-request-id"]
    assert len(fresh) == 32 and len(replaced) == 32 and fresh != replaced

    for service, says in (("gateway", "POST /api/nodes"), ("chain", "done"), ("generation", "generated 2 take(s)")):
        lines = log_lines(stack, service)
        assert all({"time", "level", "logger", "message", "service"} <= line.keys() for line in lines)
        mine = [line["message"] for line in lines if line.get("request_id") == request_id]
        assert any(says in message for message in mine), f"{service} logged no {says!r} for the request: {mine}"


def test_every_service_serves_its_metrics(stack):
    with stack.client() as client:
        root = client.post("/api/chains", files={"file": ("idea.wav", make_clip("wav", seconds=2.0))}).json()["root"]
        node = client.post(f"/api/nodes/{root['id']}/branch", json={"duration_s": 1.0}).json()
        assert stack.wait_for(node["id"])["status"] == "ready"
        client.get(f"/api/chains/{root['chain_id']}")
    with stack.client(None) as anyone:
        assert anyone.get("/metrics").status_code == 404  # not on the public port
    gateway = stack.metrics_ports["gateway"]
    assert metric(gateway, "http_requests_total", handler="/api/chains/{chain_id}", method="GET", status="2xx") >= 1
    chain = stack.metrics_ports["chain"]
    assert metric(chain, "sparrow_rpc_handled_total", method="/sparrow.v1.ChainService/CreateTakes", code="OK") >= 1
    assert metric(chain, "sparrow_rpc_duration_seconds_count", method="/sparrow.v1.ChainService/GetChain") >= 1
    assert metric(chain, "sparrow_jobs_ended_total", kind="takes", outcome="done") >= 1
    assert metric(chain, "sparrow_queue_depth", kind="takes") == 0  # nothing left waiting
    worker = stack.metrics_ports["generation"]
    # A generation worker's slots are its decoder rows (GENERATION_MAX_ROWS).
    assert metric(worker, "sparrow_worker_slots") == metric(worker, "sparrow_generation_rows_max") == 64
    assert metric(worker, "sparrow_worker_slots_busy") == metric(worker, "sparrow_generation_rows_in_flight") == 0
    assert metric(worker, "sparrow_generation_decoding_steps_total") > 0
    assert metric(worker, "sparrow_generation_decoding_steps_per_second") > 0
    export = stack.metrics_ports["export"]
    assert metric(export, "sparrow_rpc_handled_total", method="/grpc.health.v1.Health/Check", code="OK") >= 1
