"""SIGTERM stops a service gracefully: health NOT_SERVING first, then exit 0."""

from __future__ import annotations

import threading
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sparrow_common.processes import ServiceProcess, free_port, grpc_serving


def test_chain_service_drains_on_sigterm(tmp_path):
    port = free_port()
    chain = ServiceProcess(
        "chain", "sparrow_chain",
        {"CHAIN_PORT": str(port), "CHAIN_DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite",
         "CHAIN_BLOB_DIR": str(tmp_path / "blobs"), "CHAIN_GRACE_S": "3"},
        tmp_path,
    ).start()
    chain.wait_until(lambda: grpc_serving(f"127.0.0.1:{port}"))
    statuses = []
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""), timeout=20)

    def follow():
        try:
            for reply in watch:
                statuses.append(reply.status)
        except grpc.RpcError as error:
            statuses.append(error)

    follower = threading.Thread(target=follow)
    follower.start()
    time.sleep(0.3)
    started = time.monotonic()
    code = chain.stop(timeout=15)
    follower.join(5)
    channel.close()
    assert code == 0, chain.log()
    assert time.monotonic() - started < 10
    assert statuses[0] == health_pb2.HealthCheckResponse.SERVING
    assert health_pb2.HealthCheckResponse.NOT_SERVING in statuses
