"""Start Sparrow's services as real processes: `make run`, the end-to-end tests
and the benchmarks all use this."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path


_handed_out: set[int] = set()


def _ephemeral_floor() -> int:
    """The lowest port the kernel picks for an outgoing connection's source."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A port free now on 127.0.0.1 that no outgoing connection can take before a
    service binds it: it lies below the kernel's ephemeral range (the source ports
    of outgoing connections) and is never handed out twice by this process."""
    low = _ephemeral_floor()
    for _ in range(200):
        port = random.randrange(max(1024, low - 12000), low)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port below the ephemeral range ({low})")


class ServiceProcess:
    """One service (`python -m <module>`) with its environment. Its output goes to
    `<log_dir>/<name>.log`, or to our own stdout when there is no log_dir."""

    def __init__(self, name: str, module: str, env: dict[str, str], log_dir: Path | None = None):
        self.name = name
        self.module = module
        self.env = {**os.environ, **env}
        self.log_path = log_dir / f"{name}.log" if log_dir else None
        self.process: subprocess.Popen | None = None

    def start(self) -> ServiceProcess:
        output = open(self.log_path, "ab") if self.log_path else None
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module], env=self.env, stdout=output, stderr=subprocess.STDOUT
        )
        return self

    def wait_until(self, ready: Callable[[], bool], timeout: float = 60.0) -> ServiceProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log()}")
            try:
                if ready():
                    return self
            except Exception:  # noqa: BLE001 - not up yet
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {timeout}s:\n{self.log()}")

    def terminate(self) -> None:
        """Ask it to stop (SIGTERM) without waiting."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL if it won't go."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.terminate()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-4000:]


def stop_all(services: Iterable[ServiceProcess | None]) -> None:
    """Stop several services at once: all drain in parallel, not one after another."""
    running = [s for s in services if s is not None]
    for service in running:
        service.terminate()
    for service in running:
        service.stop()


def grpc_serving(address: str, service: str = "") -> bool:
    """True when the server at `address` answers health with SERVING."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=1.0
        )
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def http_ok(url: str) -> bool:
    import httpx

    return httpx.get(url, timeout=1.0).status_code == 200
