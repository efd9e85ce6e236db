"""End-to-end fixtures: the real services as separate processes on free ports."""

from __future__ import annotations

import ssl
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from sparrow_common.processes import ServiceProcess, free_port, grpc_serving, http_ok, stop_all
from sparrow_gateway.accounts import Tier, entry, new_key

UPLOAD_LIMIT = 3 * 1024 * 1024

# One TLS context for every client. The stacks speak plain HTTP, but a new
# httpx client loads the CA bundle all the same: 43 ms a client, and the tests
# make hundreds (a poll is one; the contract fuzz alone made 227).
_TLS = ssl.create_default_context()


@dataclass
class Stack:
    root: Path
    base_url: str
    chain: ServiceProcess
    generation: ServiceProcess | None
    gateway: ServiceProcess
    generation_env: dict[str, str] = field(default_factory=dict)
    upload_limit: int = UPLOAD_LIMIT
    # user -> API key (USERS: who is on which tier).
    keys: dict[str, str] = field(default_factory=dict)
    # Export and stems workers.
    others: list[ServiceProcess] = field(default_factory=list)
    # Each gRPC service's Prometheus port, by service name.
    metrics_ports: dict[str, int] = field(default_factory=dict)

    @property
    def blob_dir(self) -> Path:
        return self.root / "blobs"

    def client(self, user: str | None = "ann", **kwargs) -> httpx.Client:
        """An HTTP client signed in as `user` (None: no key at all)."""
        headers = {"X-API-Key": self.keys[user]} if user else {}
        return httpx.Client(base_url=self.base_url, timeout=30, headers=headers, verify=_TLS, **kwargs)

    def start_generation(self, wait_serving: bool = True) -> ServiceProcess:
        """(Re)start the generation worker on its port."""
        port = self.generation_env["GENERATION_PORT"]
        self.generation = ServiceProcess("generation", "sparrow_generation", self.generation_env, self.root).start()
        check = (lambda: grpc_serving(f"127.0.0.1:{port}")) if wait_serving else (lambda: _answers(port))
        self.generation.wait_until(check, timeout=120)
        return self.generation

    def wait_for(self, node_id: str, statuses=("ready", "error"), timeout: float = 120.0, user: str = "ann") -> dict:
        """Poll a node of `user`'s until its status is one of `statuses`."""
        return self._poll(node_id, lambda node: node["status"] in statuses, timeout, user)

    def wait_for_progress(self, node_id: str, timeout: float = 60.0) -> dict:
        """Poll a node until the model is writing it (progress above zero)."""
        return self._poll(node_id, lambda node: node["status"] == "generating" and node["progress"] > 0, timeout)

    def _poll(self, node_id: str, done, timeout: float, user: str = "ann") -> dict:
        deadline = time.monotonic() + timeout
        pause = 0.05  # growing to 0.25 s: a poll costs the services 3 ms, and takes last seconds
        with self.client(user) as client:
            while time.monotonic() < deadline:
                node = client.get(f"/api/nodes/{node_id}").json()
                if done(node):
                    return node
                time.sleep(pause)
                pause = min(0.25, pause * 1.5)
        raise TimeoutError(f"node {node_id} still {node['status']} after {timeout}s")

    def stop(self) -> None:
        stop_all((self.gateway, self.chain, self.generation, *self.others))


def _answers(port: str) -> bool:
    import grpc
    from sparrow.v1 import generation_pb2, generation_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        generation_pb2_grpc.GenerationServiceStub(channel).GetCapacity(
            generation_pb2.GetCapacityRequest(), timeout=1
        )
    return True


# Every stack's users. ann and carol are on the paid tier, bob on the free one.
# A module that needs a user nobody else's tests touch on a shared stack (to
# count a user's chains, say) has one of its own: dave (free), erin (paid).
USERS = {"ann": Tier.PAID, "bob": Tier.FREE, "carol": Tier.PAID, "dave": Tier.FREE, "erin": Tier.PAID}

# The stems models a stack offers (the tiny_htdemucs folder holds both): four stems by default, or six.
STEMS_MODELS = "htdemucs,htdemucs_6s"


def start_stack(
    root: Path,
    model: Path | None,
    chain_env=None,
    generation_env=None,
    wait_serving=True,
    stems_model=None,
    gateway_env=None,
    analysis=False,
) -> Stack:
    """Chain, generation (unless `model` is None), export, stems (when a
    `stems_model` folder is given), analysis (when `analysis`) and gateway,
    each its own process."""
    chain_port, generation_port, gateway_port = free_port(), free_port(), free_port()
    stems_port, export_port, analysis_port = free_port(), free_port(), free_port()
    metrics = {name: free_port() for name in ("chain", "generation", "stems", "export", "analysis", "gateway")}
    if analysis:
        chain_env = {"CHAIN_ANALYSIS_ADDR": f"127.0.0.1:{analysis_port}", **(chain_env or {})}
    users = USERS
    keys = {user: new_key() for user in users}
    chain = ServiceProcess(
        "chain", "sparrow_chain",
        {
            "CHAIN_PORT": str(chain_port), "CHAIN_DATABASE_URL": f"sqlite:///{root}/sparrow.db",
            "CHAIN_BLOB_DIR": str(root / "blobs"), "CHAIN_WATCH_POLL_S": "0.5",
            "CHAIN_GENERATION_ADDR": f"127.0.0.1:{generation_port}",
            "CHAIN_STEMS_ADDR": f"127.0.0.1:{stems_port}", "CHAIN_EXPORT_ADDR": f"127.0.0.1:{export_port}",
            "CHAIN_LEASE_S": "6", "CHAIN_RETRY_BASE_S": "0.5", "CHAIN_PROGRESS_INTERVAL_S": "0.1",
            "CHAIN_METRICS_PORT": str(metrics["chain"]), "CHAIN_STEMS_MODELS": STEMS_MODELS,
            **(chain_env or {}),
        },
        root,
    ).start()
    gen_env = {
        "GENERATION_PORT": str(generation_port), "GENERATION_MODEL": str(model),
        "GENERATION_WINDOW_S": "4", "GENERATION_STRIDE_S": "2.4", "GENERATION_TORCH_THREADS": "1",
        "GENERATION_METRICS_PORT": str(metrics["generation"]),
        **(generation_env or {}),
    }
    gateway = ServiceProcess(
        "gateway", "sparrow_gateway",
        {
            "GATEWAY_PORT": str(gateway_port), "GATEWAY_CHAIN_ADDR": f"127.0.0.1:{chain_port}",
            "GATEWAY_GENERATION_ADDRS": f"127.0.0.1:{generation_port}",
            "GATEWAY_STEMS_ADDRS": f"127.0.0.1:{stems_port}",
            "GATEWAY_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT), "GATEWAY_SSE_PING_S": "1",
            "GATEWAY_METRICS_PORT": str(metrics["gateway"]),
            "GATEWAY_API_KEYS": ",".join(entry(keys[u], u, tier) for u, tier in users.items()),
            **(gateway_env or {}),
        },
        root,
    ).start()
    export = ServiceProcess("export", "sparrow_export", {"EXPORT_PORT": str(export_port), "EXPORT_METRICS_PORT": str(metrics["export"])}, root).start()
    stems = None
    if stems_model is not None:
        stems = ServiceProcess(
            "stems", "sparrow_stems",
            {
                "STEMS_PORT": str(stems_port), "STEMS_MODEL_DIR": str(stems_model), "STEMS_TORCH_THREADS": "1",
                "STEMS_MODELS": STEMS_MODELS,
                "STEMS_METRICS_PORT": str(metrics["stems"]),
            },
            root,
        ).start()
    stack = Stack(
        root, f"http://127.0.0.1:{gateway_port}", chain, None, gateway, gen_env, keys=keys, metrics_ports=metrics
    )
    listener = None
    if analysis:
        listener = ServiceProcess(
            "analysis", "sparrow_analysis",
            {"ANALYSIS_PORT": str(analysis_port), "ANALYSIS_METRICS_PORT": str(metrics["analysis"])}, root,
        ).start()
    stack.others = [p for p in (export, stems, listener) if p is not None]
    try:
        export.wait_until(lambda: grpc_serving(f"127.0.0.1:{export_port}"))
        if listener is not None:
            listener.wait_until(lambda: grpc_serving(f"127.0.0.1:{analysis_port}"), timeout=180)
        if stems is not None:
            stems.wait_until(lambda: grpc_serving(f"127.0.0.1:{stems_port}"), timeout=120)
        if model is not None:
            stack.start_generation(wait_serving)
        chain.wait_until(lambda: grpc_serving(f"127.0.0.1:{chain_port}"))
        gateway.wait_until(lambda: http_ok(f"{stack.base_url}/readyz"))
    except BaseException:
        stack.stop()
        raise
    return stack


@pytest.fixture(scope="session")
def shared_stack(tmp_path_factory, tiny_musicgen, tiny_htdemucs):
    """Every service, with tiny random MusicGen and HTDemucs models: one for
    the run, shared by the modules that only look at their own users' chains
    (users are kept apart by their keys)."""
    running = start_stack(tmp_path_factory.mktemp("shared"), tiny_musicgen, stems_model=tiny_htdemucs)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def stack(shared_stack):
    """The whole system on embedded defaults with a tiny random MusicGen (the shared stack)."""
    return shared_stack


@pytest.fixture(scope="session")
def quiet_stack(tmp_path_factory, tiny_musicgen, tiny_htdemucs):
    """Every service, for the modules that read what is global to a stack (the
    generation worker's rows and queue, every stem on disk, the chain
    service's peak memory): generation flow, observability, stems and export.
    Each of them leaves it idle, with no stems of its own kept, when it ends."""
    running = start_stack(tmp_path_factory.mktemp("quiet"), tiny_musicgen, stems_model=tiny_htdemucs)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def unloadable_stack(tmp_path_factory):
    """A stack whose generation worker can't load its model (the folder is
    missing, as before the weights are downloaded): one for the run, shared by
    the tests of what a musician sees then, each as a user of its own."""
    root = tmp_path_factory.mktemp("unloadable")
    running = start_stack(root, root / "musicgen-small-not-downloaded", wait_serving=False)
    yield running
    running.stop()


@contextmanager
def _stacks(folder: Path):
    """start(model, ...) -> a stack in a folder of its own under `folder`; each stops at the end."""
    started: list[Stack] = []

    def start(model, **kwargs) -> Stack:
        root = folder / f"stack{len(started)}"
        root.mkdir()
        running = start_stack(root, model, **kwargs)
        started.append(running)
        return running

    try:
        yield start
    finally:
        for running in started:
            running.stop()


@pytest.fixture
def start_stack_with(tmp_path):
    """Start a stack of one's own (stopped after the test): start_stack_with(model, ...)."""
    with _stacks(tmp_path) as start:
        yield start


@pytest.fixture(scope="module")
def start_module_stack(tmp_path_factory):
    """start_stack_with for a module's fixtures: its stacks stop when the module's tests end."""
    with _stacks(tmp_path_factory.mktemp("module")) as start:
        yield start


@pytest.fixture(scope="session")
def full_stack(shared_stack):
    """Every service, with tiny random MusicGen and HTDemucs models (the shared stack)."""
    return shared_stack


@pytest.fixture(scope="session")
def listening(tmp_path_factory, tiny_musicgen, tiny_htdemucs):
    """The whole system with the analysis worker (every stored clip is heard)
    and the stems worker. One for the run: the editor's modules that hear share
    it, test_editor.py's with them, so their test worker starts no other stack."""
    running = start_stack(tmp_path_factory.mktemp("listening"), tiny_musicgen, stems_model=tiny_htdemucs, analysis=True)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def hearing(tmp_path_factory, tiny_musicgen):
    """A second system with the analysis worker, for the flows through the
    services (listening, turns, replacing a stretch): their modules run on a
    test worker of their own, beside the editor's on `listening`, rather than
    after them on one (the two took four minutes one after the other)."""
    running = start_stack(tmp_path_factory.mktemp("hearing"), tiny_musicgen, analysis=True)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for the editor's tests (sparrow_common.testing.browser),
    one per module: Playwright's sync API holds an event loop running in its
    thread while it is open, and the asyncio tests a test worker runs after a
    browser module need none running."""
    from sparrow_common.testing.browser import chromium

    try:
        with chromium() as launched:
            yield launched
    except RuntimeError as missing:
        pytest.fail(str(missing))


@pytest.fixture
def open_page(browser, full_stack):
    """Opens the editor as a user, in a context closed after the test."""
    from sparrow_common.testing.browser import pages

    yield from pages(browser, full_stack)
