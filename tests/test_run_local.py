"""`make run` (scripts/run_local.py) as a musician runs it: a service that dies is
started again and the take it was making finishes; Ctrl-C stops every service."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sparrow_common.processes import Backoff, ServiceProcess, free_port, grpc_serving, keep_running
from sparrow_common.testing.clips import make_clip

RUN_LOCAL = Path(__file__).resolve().parents[1] / "scripts" / "run_local.py"


def children(pid: int) -> dict[int, str]:
    """The processes whose parent is `pid`, with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # gone meanwhile
        # The parent's pid is the second field after the command's name in parentheses.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found[int(entry.name)] = cmdline
    return found


def the_one(pid: int, module: str) -> int:
    (found,) = [child for child, cmdline in children(pid).items() if f"-m {module}" in cmdline]
    return found


class RunLocal:
    """scripts/run_local.py as its own process, its output (and its services') in one file."""

    def __init__(self, folder: Path, model: Path):
        self.ports = {name: free_port() for name in ("CHAIN", "GENERATION", "EXPORT", "STEMS", "ANALYSIS", "GATEWAY")}
        self.data = folder / "data"
        self.output = folder / "run_local.log"
        env = {
            **os.environ,
            "SPARROW_DATA_DIR": str(self.data),
            **{f"{name}_PORT": str(port) for name, port in self.ports.items()},
            # No Prometheus ports: the fixed defaults may be taken on this machine.
            **{f"{name}_METRICS_PORT": "0" for name in self.ports},
            "GENERATION_MODEL": str(model),
            "GENERATION_WINDOW_S": "4", "GENERATION_STRIDE_S": "2.4", "GENERATION_TORCH_THREADS": "1",
            # Stems would download Meta's weights: a folder with none says so at once.
            "STEMS_MODEL_DIR": str(folder / "no-demucs"), "STEMS_TORCH_THREADS": "1",
            "CHAIN_RETRY_BASE_S": "0.5", "CHAIN_PROGRESS_INTERVAL_S": "0.1",
        }
        with open(self.output, "wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, str(RUN_LOCAL)], env=env, cwd=folder, stdout=output, stderr=subprocess.STDOUT
            )
        self.base_url = f"http://127.0.0.1:{self.ports['GATEWAY']}"

    def log(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_until(self, done, what: str, timeout: float = 120.0):
        """Poll `done()` while run_local is up; fail with its output if it exits or never gets there."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"run_local exited with {self.process.returncode} waiting for {what}:\n{self.log()[-4000:]}")
            try:
                found = done()
            except Exception:  # noqa: BLE001 - not up yet
                found = None
            if found:
                return found
            time.sleep(0.1)
        pytest.fail(f"no {what} after {timeout}s:\n{self.log()[-4000:]}")

    def client(self) -> httpx.Client:
        key = (self.data / "local-key").read_text().strip()
        return httpx.Client(base_url=self.base_url, timeout=30, headers={"X-API-Key": key})

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def make_run(tmp_path, tiny_musicgen):
    running = RunLocal(tmp_path, tiny_musicgen)
    yield running
    running.stop()


def node_of(client: httpx.Client, node_id: str) -> dict:
    return client.get(f"/api/nodes/{node_id}").json()


def test_a_killed_worker_is_started_again_its_take_finishes_and_ctrl_c_stops_every_service(make_run):
    run = make_run
    run.wait_until(lambda: httpx.get(f"{run.base_url}/readyz", timeout=1).status_code == 200, "gateway")
    run.wait_until(lambda: grpc_serving(f"127.0.0.1:{run.ports['GENERATION']}"), "generation serving")
    with run.client() as client:
        reply = client.post("/api/chains", files={"file": ("idea.wav", make_clip("wav", seconds=2.0))})
        assert reply.status_code == 201, reply.text
        root = reply.json()["root"]
        take = client.post(f"/api/nodes/{root['id']}/branch", json={"duration_s": 15, "seed": 3}).json()
        run.wait_until(
            lambda: (n := node_of(client, take["id"]))["status"] == "generating" and n["progress"] > 0, "progress"
        )
        worker = the_one(run.process.pid, "sparrow_generation")
        os.kill(worker, signal.SIGKILL)  # mid-take

        run.wait_until(lambda: "generation started again" in run.log(), "restart")
        assert "generation exited with signal 9 (SIGKILL)" in run.log()
        assert the_one(run.process.pid, "sparrow_generation") != worker
        finished = run.wait_until(
            lambda: (n := node_of(client, take["id"]))["status"] in ("ready", "error") and n, "the take"
        )
        assert finished["status"] == "ready", finished["error_msg"]
        assert client.get(finished["audio_url"]).status_code == 200

    services = children(run.process.pid)
    assert len(services) == 6, services
    run.process.send_signal(signal.SIGINT)  # Ctrl-C
    assert run.process.wait(60) == 0, run.log()[-4000:]
    left = [pid for pid in services if Path(f"/proc/{pid}").exists()]
    assert left == [], f"still running after Ctrl-C: {[services[pid] for pid in left]}"


@pytest.mark.parametrize(
    ("settled", "waits"),
    [(60.0, [0.05, 0.1, 0.2, 0.2]), (0.0, [0.05, 0.05, 0.05, 0.05])],
    ids=["doubling-to-the-longest", "back-to-the-first-once-it-stayed-up"],
)
def test_a_service_that_keeps_exiting_is_started_again_after_a_growing_back_off(tmp_path, caplog, settled, waits):
    """A service that can't start (here: no such module, exit code 1) is started
    again after a back-off that doubles up to its ceiling; one that had stayed up
    `settled` seconds is started again after the first wait."""
    caplog.set_level(logging.INFO, logger="sparrow_common.processes")
    dying = ServiceProcess("dying", "sparrow_no_such_service", {}, tmp_path).start()

    def exits():
        return [r for r in caplog.records if r.getMessage().startswith("dying exited")]

    keep_running([dying], lambda: len(exits()) == len(waits), Backoff(first=0.05, longest=0.2, settled=settled))
    dying.stop()
    assert [r.args[-1] for r in exits()] == waits
    assert all("exit code 1" in r.getMessage() for r in exits())
    assert sum("dying started again" in r.getMessage() for r in caplog.records) == len(waits) - 1
    assert "No module named sparrow_no_such_service" in dying.log()
