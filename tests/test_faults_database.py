"""PostgreSQL going away under a running stack, through the real processes.

The shared PostgreSQL server can't be stopped (other tests use it), so the chain
reaches a database of its own through a TCP proxy in this process; cutting the
proxy (its listener and every connection) is the server going away, opening it
again its coming back. While it is away every call answers 503 with
`Retry-After` and words, never 502; the chain's log says so once, not once a
request, with no traceback; a take being made is neither failed nor lost, and
no task of the dispatcher ends with an error nobody reads."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid

import psycopg
import pytest

from sparrow_common.processes import free_port
from sparrow_common.testing.clips import make_clip

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
POSTGRES = ("127.0.0.1", 5432)
OUTAGE = "the database is not answering"
BACK = "the database is answering again"


class Proxy:
    """Forwards TCP connections on a free port to PostgreSQL until cut."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.port = free_port()
        self.lock = threading.Lock()
        self.sockets: set[socket.socket] = set()
        self.listener: socket.socket | None = None

    def open(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.listener.settimeout(0.1)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def cut(self) -> None:
        """Stop listening (new connections are refused) and close every connection."""
        listener, self.listener = self.listener, None
        listener.close()
        with self.lock:
            for sock in self.sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self.sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while self.listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self.lock:
                if self.listener is not listener:
                    client.close()
                    server.close()
                    return
                self.sockets.update((client, server))
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.fixture
def database():
    """A fresh database of the test's own on the shared server, dropped afterwards."""
    name = f"sparrow_fault_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def proxy():
    running = Proxy(POSTGRES)
    running.open()
    yield running
    if running.listener is not None:
        running.cut()


def log_lines(path) -> list[str]:
    """The messages (and tracebacks) of a service's JSON log."""
    lines = []
    for raw in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(raw)
        except ValueError:
            lines.append(raw)  # what was not logged through logging (a crash's stderr)
            continue
        lines.append(f"{record.get('message', '')} {record.get('exc_info', '')}")
    return lines


def wait_until(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise TimeoutError(f"not so after {timeout}s")


def test_database_away_answers_503_and_comes_back(database, proxy, start_stack_with):
    stack = start_stack_with(
        None,
        chain_env={
            "CHAIN_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/{database}",
            "CHAIN_DATABASE_TIMEOUT_S": "2",
            # The take's lease is renewed every half second, and claims looked for as often, so
            # the dispatcher meets the outage at once.
            "CHAIN_LEASE_S": "1.5", "CHAIN_JOB_POLL_S": "0.2",
        },
    )
    chain_log = stack.chain.log_path
    with stack.client("ann") as client:
        chain = client.post("/api/chains", files={"file": ("a.wav", make_clip("wav"))}, data={"title": "before"})
        assert chain.status_code == 201, chain.text
        chain_id, root_id = chain.json()["id"], chain.json()["root"]["id"]
        # No generation worker: the take's job is claimed and waits for one, renewing its lease.
        take = client.post(f"/api/nodes/{root_id}/takes", json={"count": 1})
        assert take.status_code == 202, take.text
        take_id = take.json()["nodes"][0]["id"]
        stack.wait_for(take_id, statuses=("generating",), timeout=30)

        proxy.cut()
        answers = []
        for _ in range(4):
            answers += [
                client.get(f"/api/chains/{chain_id}"),
                client.get("/api/chains"),
                client.get(f"/api/nodes/{take_id}"),
                client.patch(f"/api/chains/{chain_id}", json={"title": "during"}),
                client.post("/api/chains", files={"file": ("b.wav", make_clip("wav"))}, data={"title": "lost?"}),
            ]
        for answer in answers:
            assert answer.status_code == 503, (answer.request.method, answer.request.url, answer.text)
            assert answer.headers["Retry-After"].isdigit()
            assert "database" in answer.json()["detail"] and "try again" in answer.json()["detail"]
        # The notices' connection was cut too; by the time it says so the dispatcher's
        # lease keeper and claim loop have met the outage as well.
        wait_until(lambda: any("lost the database's notifications" in line for line in log_lines(chain_log)))
        time.sleep(1.0)

        proxy.open()
        back = wait_until(lambda: (reply := client.get(f"/api/chains/{chain_id}")).status_code == 200 and reply)
        assert back.json()["title"] == "before"  # the refused rename was not half made
        titles = [item["title"] for item in client.get("/api/chains").json()]
        assert titles == ["before"]  # nor a refused upload
        assert client.get(f"/api/nodes/{take_id}").json()["status"] == "generating"  # the take goes on
        again = client.post("/api/chains", files={"file": ("c.wav", make_clip("wav"))}, data={"title": "after"})
        assert again.status_code == 201, again.text

    # Its whole log, up to a graceful stop: a task's error nobody read is logged when the task is dropped.
    stack.chain.stop()
    lines = log_lines(chain_log)
    assert sum(OUTAGE in line for line in lines) == 1, [line for line in lines if OUTAGE in line]
    assert sum(BACK in line for line in lines) == 1
    assert sum("lost the database's notifications" in line for line in lines) == 1
    assert not [line for line in lines if "Traceback" in line or "never retrieved" in line]
    assert not [line for line in log_lines(stack.gateway.log_path) if "Traceback" in line]
