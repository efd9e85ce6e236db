"""Several replicas on PostgreSQL, each its own process on loopback: two chain
replicas, two generation workers and two gateways. Takes asked through one
gateway are spread over both workers and each job runs once; an SSE client on
the other gateway sees every event, whichever replica wrote it; killing a worker
and a chain replica mid-run loses no take and no event."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from sparrow_common.processes import ServiceProcess, free_port, grpc_serving, http_ok, stop_all
from sparrow_common.testing.clips import make_clip
from sparrow_common.testing.metrics import metric
from sparrow_common.testing.sse import read_events
from sparrow_gateway.accounts import Tier, entry, new_key

TAKES_PER_ASK = 2
ASKS = 6  # twelve takes in all


@dataclass
class Replica:
    process: ServiceProcess
    port: int
    metrics_port: int

    def metrics(self, name: str, **labels: str) -> float:
        return metric(self.metrics_port, name, **labels)


@dataclass
class Cluster:
    key: str
    chains: list[Replica]
    workers: list[Replica]
    gateways: list[str]
    processes: list[ServiceProcess] = field(default_factory=list)

    def client(self, gateway: int) -> httpx.Client:
        return httpx.Client(base_url=self.gateways[gateway], headers={"X-API-Key": self.key}, timeout=30)

    def stop(self) -> None:
        stop_all(self.processes)


def start_cluster(root: Path, database_url: str, model: Path) -> Cluster:
    key = new_key()
    chain_ports, worker_ports = [free_port(), free_port()], [free_port(), free_port()]
    workers = [
        Replica(
            ServiceProcess(
                f"generation{i}", "sparrow_generation",
                {
                    "GENERATION_PORT": str(port), "GENERATION_MODEL": str(model),
                    "GENERATION_TORCH_THREADS": "1", "GENERATION_METRICS_PORT": str(metrics),
                    "GENERATION_WINDOW_S": "4", "GENERATION_STRIDE_S": "2.4",
                },
                root,
            ),
            port, metrics,
        )
        for i, (port, metrics) in enumerate((p, free_port()) for p in worker_ports)
    ]
    # A client balances round-robin over every address it is given, as over a headless Service's pods.
    worker_addr = "ipv4:" + ",".join(f"127.0.0.1:{p}" for p in worker_ports)
    chain_addr = "ipv4:" + ",".join(f"127.0.0.1:{p}" for p in chain_ports)
    chains = [
        Replica(
            ServiceProcess(
                f"chain{i}", "sparrow_chain",
                {
                    "CHAIN_PORT": str(port), "CHAIN_DATABASE_URL": database_url,
                    "CHAIN_BLOB_DIR": str(root / "blobs"), "CHAIN_GENERATION_ADDR": worker_addr,
                    # Only a NOTIFY from the other replica can wake a watcher in time.
                    "CHAIN_WATCH_POLL_S": "600",
                    # Each replica runs at most half the jobs at once, so both take part.
                    "CHAIN_DISPATCH_SLOTS": str(ASKS // 2),
                    "CHAIN_LEASE_S": "3", "CHAIN_RETRY_BASE_S": "0.5", "CHAIN_MAX_ATTEMPTS": "5",
                    "CHAIN_PROGRESS_INTERVAL_S": "0.2", "CHAIN_METRICS_PORT": str(metrics),
                },
                root,
            ),
            port, metrics,
        )
        for i, (port, metrics) in enumerate((p, free_port()) for p in chain_ports)
    ]
    gateway_ports = [free_port(), free_port()]
    gateways = [
        ServiceProcess(
            f"gateway{i}", "sparrow_gateway",
            {
                "GATEWAY_PORT": str(port), "GATEWAY_CHAIN_ADDR": chain_addr,
                "GATEWAY_GENERATION_ADDRS": ",".join(f"127.0.0.1:{p}" for p in worker_ports),
                "GATEWAY_SSE_PING_S": "1", "GATEWAY_API_KEYS": entry(key, "ann", Tier.PAID),
                "GATEWAY_METRICS_PORT": "0",
            },
            root,
        )
        for i, port in enumerate(gateway_ports)
    ]
    cluster = Cluster(
        key, chains, workers, [f"http://127.0.0.1:{p}" for p in gateway_ports],
        [r.process for r in (*workers, *chains)] + gateways,
    )
    try:
        for process in cluster.processes:
            process.start()
        for replica in (*workers, *chains):
            replica.process.wait_until(lambda r=replica: grpc_serving(f"127.0.0.1:{r.port}"), timeout=180)
        for gateway, url in zip(gateways, cluster.gateways):
            gateway.wait_until(lambda u=url: http_ok(f"{u}/readyz"))
    except BaseException:
        cluster.stop()
        raise
    return cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, tiny_musicgen, postgres_module_url):
    # Both chain replicas share one fresh schema on the real PostgreSQL server.
    running = start_cluster(tmp_path_factory.mktemp("replicas"), postgres_module_url, tiny_musicgen)
    yield running
    running.stop()


class Listener:
    """An SSE client on one gateway, in a thread, reconnecting with
    Last-Event-ID whenever the stream breaks, as a browser's EventSource does."""

    def __init__(self, cluster: Cluster, gateway: int, chain_id: str):
        self.url = f"{cluster.gateways[gateway]}/api/chains/{chain_id}/events"
        self.headers = {"X-API-Key": cluster.key}
        self.events: list[dict] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.is_set():
            headers = dict(self.headers)
            if self.events:
                headers["Last-Event-ID"] = self.events[-1]["id"]
            try:
                with httpx.stream("GET", self.url, headers=headers, timeout=httpx.Timeout(30, read=5)) as reply:
                    for event in read_events(reply.iter_lines()):
                        self.events.append(event)
                        if self.stopped.is_set():
                            return
            except httpx.HTTPError:
                time.sleep(0.2)

    def ready(self) -> set[str]:
        return {e["data"]["node"]["id"] for e in self.events if (e["data"].get("node") or {}).get("status") == "ready"}

    def wait_ready(self, node_ids: set[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not node_ids <= self.ready():
            assert time.monotonic() < deadline, f"{len(node_ids - self.ready())} takes never showed ready"
            time.sleep(0.1)

    def stop(self) -> list[int]:
        self.stopped.set()
        self.thread.join(timeout=10)
        return [int(e["id"]) for e in self.events]


def upload(client: httpx.Client) -> tuple[str, str]:
    """A new chain: its id and its root's."""
    created = client.post("/api/chains", files={"file": ("idea.wav", make_clip("wav", seconds=2.0))})
    assert created.status_code == 201, created.text
    chain = created.json()
    return chain["id"], chain["root"]["id"]


def request_takes(client: httpx.Client, root_id: str, duration_s: float) -> set[str]:
    ids: set[str] = set()
    for ask in range(ASKS):
        reply = client.post(
            f"/api/nodes/{root_id}/takes",
            json={"count": TAKES_PER_ASK, "duration_s": duration_s, "seed": 100 * ask},
        )
        assert reply.status_code == 202, reply.text
        ids |= {n["id"] for n in reply.json()["nodes"]}
    assert len(ids) == ASKS * TAKES_PER_ASK
    return ids


def node_status(client: httpx.Client, node_id: str) -> dict | None:
    """The node, or None while the gateway can't reach a chain replica."""
    reply = client.get(f"/api/nodes/{node_id}")
    return reply.json() if reply.status_code == 200 else None


def test_takes_are_spread_over_both_workers_once_each_and_the_other_gateway_hears_everything(cluster):
    before_takes = [w.metrics("sparrow_generation_takes_total") for w in cluster.workers]
    before_jobs = [c.metrics("sparrow_jobs_ended_total", kind="takes") for c in cluster.chains]
    with cluster.client(0) as client:
        chain_id, root_id = upload(client)
        listener = Listener(cluster, 1, chain_id)
        takes = request_takes(client, root_id, 1.0)
        listener.wait_ready(takes, timeout=240)
        seqs = listener.stop()
        assert all(node_status(client, n)["status"] == "ready" for n in takes)

    # The other gateway's client saw every event, in order, each once.
    assert seqs == list(range(1, len(seqs) + 1))
    made = [w.metrics("sparrow_generation_takes_total") - b for w, b in zip(cluster.workers, before_takes)]
    assert sum(made) == ASKS * TAKES_PER_ASK, f"takes generated per worker: {made}"
    assert all(n > 0 for n in made), f"one worker did everything: {made}"
    ended = [c.metrics("sparrow_jobs_ended_total", kind="takes") - b for c, b in zip(cluster.chains, before_jobs)]
    done = [c.metrics("sparrow_jobs_ended_total", kind="takes", outcome="done") for c in cluster.chains]
    # No job was claimed twice or retried; both replicas ran some (the SSE
    # client, watching through one of them, heard the other's through NOTIFY).
    assert sum(ended) == ASKS and sum(done) == ASKS, f"jobs ended per replica: {ended}"
    assert all(n > 0 for n in ended), f"one replica ran every job: {ended}"
    assert sum(w.metrics("sparrow_rpc_handled_total", method="/sparrow.v1.GenerationService/Generate") for w in cluster.workers) == ASKS


def test_killing_a_worker_and_a_chain_replica_mid_run_loses_no_take_and_no_event(cluster):
    with cluster.client(0) as client:
        chain_id, root_id = upload(client)
        listener = Listener(cluster, 1, chain_id)
        takes = request_takes(client, root_id, 6.0)
        deadline = time.monotonic() + 120
        while not any((node_status(client, n) or {}).get("progress", 0) > 0 for n in takes):
            assert time.monotonic() < deadline, "no take started"
            time.sleep(0.1)
        cluster.workers[0].process.kill()  # SIGKILL, mid-take
        cluster.chains[0].process.kill()  # holding leases on jobs of its own
        listener.wait_ready(takes, timeout=300)
        seqs = listener.stop()
        finished = [node_status(client, n) for n in takes]
    assert [n["status"] for n in finished] == ["ready"] * len(takes), [n["error_msg"] for n in finished]
    assert all(abs(n["duration_s"] - 6.0) <= 0.02 for n in finished)
    assert seqs == list(range(1, len(seqs) + 1)), "an event was lost or repeated"
