"""Start Sparrow's services as real processes: `make run`, the end-to-end tests
and the benchmarks all use this. `keep_running` is `make run`'s supervisor."""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_handed_out: set[int] = set()


def _ephemeral_floor() -> int:
    """The lowest port the kernel picks for an outgoing connection's source."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _slice(first: int, last: int) -> tuple[int, int]:
    """This process's own part of [first, last) when parallel test workers hand
    out ports side by side (pytest-xdist names them gw0, gw1, ...), so that no
    two of them give one port to two services starting at once; else all of it."""
    worker, count = os.environ.get("PYTEST_XDIST_WORKER", ""), os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    if not (worker.startswith("gw") and worker[2:].isdigit() and count.isdigit() and int(count) > 1):
        return first, last
    width = (last - first) // int(count)
    start = first + width * (int(worker[2:]) % int(count))
    return start, start + width


def free_port() -> int:
    """A port free now on 127.0.0.1 that no outgoing connection can take before a
    service binds it: it lies below the kernel's ephemeral range (the source ports
    of outgoing connections) and is never handed out twice by this process."""
    low = _ephemeral_floor()
    first, last = _slice(max(1024, low - 12000), low)
    for _ in range(200):
        port = random.randrange(first, last)
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
        self.started_at = 0.0  # time.monotonic() at the last start

    def start(self) -> ServiceProcess:
        output = open(self.log_path, "ab") if self.log_path else None
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module], env=self.env, stdout=output, stderr=subprocess.STDOUT
            )
        finally:
            if output is not None:
                output.close()  # the child has its own copy; a service started again opens it anew
        self.started_at = time.monotonic()
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


def how_it_ended(returncode: int) -> str:
    """"exit code 1", or "signal 9 (SIGKILL)" for a process a signal ended
    (Popen gives that as a negative return code)."""
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = "unknown"
    return f"signal {-returncode} ({name})"


@dataclass(frozen=True)
class Backoff:
    """How long `keep_running` waits before starting again a service that exited:
    `first`, doubled each time it exits again, up to `longest`; back to `first`
    once it had stayed up `settled` seconds (it was serving, not failing to start).
    The chain waits 120 s (CHAIN_WORKER_WAIT_S) for a worker before a take ends in
    error; a 30 s ceiling still tries a worker four times within that wait, however
    long it has been dying."""

    first: float = 0.5
    longest: float = 30.0
    settled: float = 60.0


def keep_running(services: list[ServiceProcess], stopping: Callable[[], bool], backoff: Backoff = Backoff()) -> None:
    """Until `stopping()` is true, start again each service that exits, after
    `backoff`, and log which one, how it ended and when it starts again. The
    services must have been started; stopping them is the caller's."""
    waits = {service.name: backoff.first for service in services}
    due: dict[str, float] = {}  # name -> when it starts again
    while not stopping():
        now = time.monotonic()
        for service in services:
            if service.name in due:
                if now >= due[service.name]:
                    del due[service.name]
                    service.start()
                    log.info("%s started again (pid %d)", service.name, service.process.pid)
            elif service.process.poll() is not None:
                up = now - service.started_at
                wait = backoff.first if up >= backoff.settled else waits[service.name]
                waits[service.name] = min(wait * 2, backoff.longest)
                due[service.name] = now + wait
                log.warning(
                    "%s exited with %s after %.1fs up; starting it again in %gs",
                    service.name, how_it_ended(service.process.returncode), up, wait,
                )
        time.sleep(0.1)


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
