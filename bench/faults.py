"""Load and faults: issue 29's "Done when", run again through the real services.

A whole stack is started as processes (chain on PostgreSQL through a TCP proxy,
in a fresh database `sparrow_bench_<random>` created and dropped here;
generation with a tiny random MusicGen; export; analysis unless
`--no-analysis`; stems with `--stems`; gateway), then six phases run, each with
`--clients` clients (threads, 40 by default) doing what musicians do: upload a
clip, ask for takes, read the chain, a node and its audio, list chains, commit,
discard and undo, export, and follow the event stream:

 1. load only (`--seconds`, 90 by default);
 2. the generation worker SIGKILLed while it makes takes, then started again;
 3. the chain service SIGKILLed, then started again;
 4. PostgreSQL cut (the proxy's listener and every connection) for 5 s;
 5. the uploads folder made unwritable (a plain file in its place), then full
    (a tmpfs written full; noted and skipped where mounting is refused), then mended;
 6. 20-way races, on 21 takes made before the clients start: 20 clients
    discard one take at once, 20 restore it at once, 20 commit 20 sibling takes
    at once (each time one winner, the others 409), then 20 undo at once (at
    most three of them done: there were three moves).

Phases 2 to 6 last `--fault-seconds` (30 by default, never more than `--seconds`).
After each phase every take asked for is waited on (till it is ready, or in error
with words: no server path, no errno), every chain made so far is read again,
and a sample of chains' event logs is read from the start (seqs 1, 2, 3... with
no gap). The table counts every answer by status; a 5xx is allowed only as 503
or 507 with Retry-After (429 needs it too); an answer slower than 5 s is a hang
(the event stream to its headers only); a request with no answer at all
(connection dropped, or none in 30 s) is "dropped". It exits 1 when any of
these fails, so it is issue 29's check. The services' ERROR records (and any
deadlock) written during each phase are listed too, without failing the run.

    .venv/bin/python bench/faults.py [--seconds 90] [--clients 40] [--no-analysis] [--stems]

`--seconds 20` took 4 to 6 minutes on two cores shared with a test run: each
phase is its 20 s of load and 12 to 26 s of looking for what it made. Counts
are the point, not timings; the slowest answer depends on what else the machine
runs ("bench lag" is the longest the bench's own clients were kept from running).
Mounting the tmpfs needs root.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

# The stack, the PostgreSQL proxy and the storage faults are the end-to-end
# tests' own (tests/conftest.py, tests/test_faults_*.py): the bench breaks
# Sparrow exactly as they do, only longer and under load.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from conftest import USERS, start_stack  # noqa: E402
from test_faults_database import ADMIN, POSTGRES, Proxy  # noqa: E402
from test_faults_storage import full, unwritable  # noqa: E402

from sparrow_common.processes import grpc_serving  # noqa: E402
from sparrow_common.testing.clips import make_clip  # noqa: E402
from sparrow_generation.engine.tiny import build_random_musicgen  # noqa: E402

HANG_S = 5.0
TIMEOUT_S = 30.0  # Stack.client's
RETRY_AFTER = {429, 503, 507}
ALLOWED_5XX = {503, 507}
TAKE_SECONDS = 1.0
# How long a phase's takes get to end once its clients stop: a worker killed
# mid-take hands its takes back after the chain's lease (6 s here), and the
# worker queue is at most 16 takes a paid user, 4 a free one.
DRAIN_S = 180.0
# The load's users (two paid, two free); erin (paid) makes the races' 21 takes,
# so no daily limit the load reached can stop them.
USER_NAMES = [user for user in USERS if user != "erin"]
# Words a musician should never read in a take's error.
NOT_WORDS = re.compile(r"errno|traceback|\.incoming|/tmp/|No space left", re.IGNORECASE)


def said(reply: httpx.Response) -> str:
    """The start of an answer's body (an event stream's is not read)."""
    try:
        return reply.text[:300]
    except httpx.ResponseNotRead:
        return "(a stream)"


@dataclass
class Tally:
    """Every answer of one phase."""

    statuses: Counter = field(default_factory=Counter)
    slowest: float = 0.0
    slowest_what: str = ""
    hangs: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)  # 5xx other than 503/507, or no Retry-After
    dropped: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    started: float = field(default_factory=time.monotonic)
    took: float = 0.0  # the phase's wall time, its checks included
    log_errors: list[str] = field(default_factory=list)  # the services' ERROR records meanwhile
    # The longest a 50 ms sleep of the bench's own overslept: on a machine too busy
    # to run the clients on time, an answer's time includes the clients' wait.
    lag: float = 0.0

    def at(self) -> str:
        return f"t+{time.monotonic() - self.started:.1f}s"

    def answered(self, what: str, reply: httpx.Response, took: float, timed: bool = True) -> None:
        with self.lock:
            self.statuses[reply.status_code] += 1
            if timed and took > self.slowest:
                self.slowest, self.slowest_what = took, f"{what} -> {reply.status_code}"
            if timed and took > HANG_S:
                self.hangs.append(f"{self.at()} {what} -> {reply.status_code} in {took:.1f}s")
            code = reply.status_code
            if code >= 500 and code not in ALLOWED_5XX:
                self.bad.append(f"{self.at()} {what} -> {code} {said(reply)}")
            if code in RETRY_AFTER and not reply.headers.get("Retry-After", "").isdigit():
                self.bad.append(f"{self.at()} {what} -> {code} without Retry-After: {said(reply)}")

    def failed(self, what: str, error: Exception, took: float) -> None:
        with self.lock:
            self.dropped.append(f"{self.at()} {what}: {type(error).__name__} {error} after {took:.1f}s")

    @property
    def requests(self) -> int:
        return sum(self.statuses.values()) + len(self.dropped)

    @property
    def ok(self) -> bool:
        return not (self.hangs or self.bad or self.dropped or self.lost)


@dataclass
class Ledger:
    """What the clients made, to look for afterwards."""

    chains: dict[str, str] = field(default_factory=dict)  # chain id -> user
    takes: dict[str, tuple[str, str]] = field(default_factory=dict)  # take id -> (chain id, user)
    lock: threading.Lock = field(default_factory=threading.Lock)


def read_seqs(client: httpx.Client, chain_id: str, tally: Tally | None = None, started: float = 0.0) -> list[int] | None:
    """The seqs of a chain's events from the first, read until a ping comes
    over a second after the last event (the stack pings every second); None when the stream
    is refused. `tally` counts the answer (its time to headers only)."""
    seqs = []
    with client.stream("GET", f"/api/chains/{chain_id}/events", params={"after": 0}) as reply:
        if tally is not None:
            tally.answered("GET /api/chains/{id}/events", reply, time.perf_counter() - started)
        if reply.status_code != 200:
            return None
        quiet_since = time.monotonic()
        for line in reply.iter_lines():
            if line.startswith("id:"):
                seqs.append(int(line.split(":", 1)[1]))
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > 1.1:  # a ping, a second on, with no event since
                break
    return seqs


class Musician:
    """One client: a user's key, the chains it made, and one move at a time."""

    def __init__(self, bench: Bench, index: int):
        self.bench = bench
        self.user = USER_NAMES[index % len(USER_NAMES)]
        self.client = bench.stack.client(self.user)
        self.rng = random.Random(index)
        self.chains: list[dict] = []  # {"id", "tip"}: the tip is the spine's end as this client knows it

    def call(self, what: str, method: str, url: str, timed: bool = True, **kwargs) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            reply = self.client.request(method, url, **kwargs)
        except httpx.HTTPError as error:
            self.bench.tally.failed(what, error, time.perf_counter() - started)
            return None
        self.bench.tally.answered(what, reply, time.perf_counter() - started, timed)
        return reply

    def upload(self) -> None:
        clip = self.rng.choice(self.bench.clips)
        reply = self.call("POST /api/chains", "POST", "/api/chains", files={"file": ("idea.wav", clip)})
        if reply is not None and reply.status_code == 201:
            made = reply.json()
            with self.bench.ledger.lock:
                self.bench.ledger.chains[made["id"]] = self.user
            self.chains.append({"id": made["id"], "tip": made["root"]["id"]})

    def ask_takes(self, chain: dict) -> None:
        count = self.rng.choice((1, 2))
        reply = self.call(
            "POST /api/nodes/{id}/takes", "POST", f"/api/nodes/{chain['tip']}/takes",
            json={"count": count, "duration_s": TAKE_SECONDS, "seed": self.rng.randrange(1 << 30)},
        )
        if reply is not None and reply.status_code == 202:
            with self.bench.ledger.lock:
                for node in reply.json()["nodes"]:
                    self.bench.ledger.takes[node["id"]] = (chain["id"], self.user)

    def look(self, chain: dict) -> dict | None:
        reply = self.call("GET /api/chains/{id}", "GET", f"/api/chains/{chain['id']}")
        return reply.json() if reply is not None and reply.status_code == 200 else None

    def commit_or_discard(self, chain: dict) -> None:
        seen = self.look(chain)
        if seen is None:
            return
        takes = [n for n in seen["nodes"] if n["parent_id"] == chain["tip"] and n["status"] == "ready"]
        if not takes:
            return
        take = self.rng.choice(takes)
        if self.rng.random() < 0.6:
            reply = self.call("POST /api/nodes/{id}/commit", "POST", f"/api/nodes/{take['id']}/commit")
            if reply is not None and reply.status_code == 200:
                chain["tip"] = take["id"]
        else:
            reply = self.call("DELETE /api/nodes/{id}", "DELETE", f"/api/nodes/{take['id']}")
            if reply is not None and reply.status_code == 200 and self.rng.random() < 0.5:
                self.call("POST /api/chains/{id}/undo", "POST", f"/api/chains/{chain['id']}/undo")

    def listen(self, chain: dict) -> None:
        seen = self.look(chain)
        if seen is None:
            return
        node = self.rng.choice(seen["nodes"])
        self.call("GET /api/nodes/{id}", "GET", f"/api/nodes/{node['id']}")
        if node["audio_url"]:
            self.call("GET /api/nodes/{id}/audio", "GET", node["audio_url"])

    def follow(self, chain: dict) -> None:
        """The event stream from the start for a moment: its seqs must run 1, 2, 3..."""
        started = time.perf_counter()
        try:
            seqs = read_seqs(self.client, chain["id"], self.bench.tally, started)
        except httpx.HTTPError as error:
            self.bench.tally.failed("GET /api/chains/{id}/events", error, time.perf_counter() - started)
            return
        if seqs and seqs != list(range(1, len(seqs) + 1)):
            with self.bench.tally.lock:
                self.bench.tally.lost.append(f"events of {chain['id']} not contiguous: {seqs[:40]}")

    def export(self, chain: dict) -> None:
        self.call("POST /api/chains/{id}/export", "POST", f"/api/chains/{chain['id']}/export", json={"format": "wav"})

    def step(self) -> None:
        # A musician works on a few songs: an upload is one move in 30 (under
        # 40 clients, about two a second, where a take is asked for five times a second).
        if not self.chains or self.rng.random() < 0.033:
            self.upload()
            return
        chain = self.rng.choice(self.chains)
        move = self.rng.choices(
            ("takes", "look", "listen", "commit", "list", "export", "follow"),
            weights=(20, 20, 20, 15, 8, 5, 4),
        )[0]
        if move == "takes":
            self.ask_takes(chain)
        elif move == "look":
            self.look(chain)
        elif move == "listen":
            self.listen(chain)
        elif move == "commit":
            self.commit_or_discard(chain)
        elif move == "list":
            self.call("GET /api/chains", "GET", "/api/chains")
        elif move == "export":
            self.export(chain)
        else:
            self.follow(chain)


class Bench:
    def __init__(self, stack, proxy: Proxy, clients: int):
        self.stack = stack
        self.proxy = proxy
        self.ledger = Ledger()
        self.tally = Tally()
        self.clips = [make_clip("wav", seconds=s) for s in (1.5, 2.0, 3.0)]
        self.musicians = [Musician(self, i) for i in range(clients)]

    def phase(self, name: str, seconds: float, fault=None, prepare=None) -> tuple[str, Tally]:
        """The clients for `seconds`, with `fault(tally)` run beside them
        after a quarter of it (`prepare()` first, before the clients); then
        what was made is looked for."""
        print(f"phase {name}...", file=sys.stderr, flush=True)
        logs = {p.name: p.log_path.stat().st_size for p in self.services()}  # its preparation's errors count too
        self.tally = tally = Tally()
        if prepare is not None:
            try:
                prepare()
            except Exception as error:  # noqa: BLE001 - said as the fault's failure below
                tally.lost.append(f"could not prepare the fault: {type(error).__name__}: {error}")
                fault = None
        tally.started = time.monotonic()
        stop = threading.Event()

        def play(musician: Musician) -> None:
            while not stop.is_set():
                try:
                    musician.step()
                except Exception as error:  # noqa: BLE001 - an answer the bench did not expect: said, and on
                    with tally.lock:
                        tally.notes.append(f"bench: {type(error).__name__}: {error}")

        def watch_lag() -> None:
            while not stop.is_set():
                before = time.monotonic()
                time.sleep(0.05)
                tally.lag = max(tally.lag, time.monotonic() - before - 0.05)

        threads = [threading.Thread(target=play, args=(m,), daemon=True) for m in self.musicians]
        threads.append(threading.Thread(target=watch_lag, daemon=True))
        started = time.monotonic()
        for thread in threads:
            thread.start()
        if fault is not None:
            time.sleep(seconds / 4)
            try:
                fault(tally)
            except Exception as error:  # noqa: BLE001 - a fault that can't be made is said, not hidden
                tally.notes.append(f"fault not made: {type(error).__name__}: {error}")
                tally.lost.append(f"the fault itself failed: {error}")
        time.sleep(max(0.0, seconds - (time.monotonic() - started)))
        stop.set()
        for thread in threads:
            thread.join(TIMEOUT_S + 5)
        self.look_for_everything(tally)
        tally.log_errors = self.errors_logged(logs)
        tally.took = time.monotonic() - started
        print(f"  {tally.requests} requests, {tally.took:.0f}s", file=sys.stderr, flush=True)
        return name, tally

    def services(self):
        return [p for p in (self.stack.chain, self.stack.gateway, self.stack.generation, *self.stack.others) if p]

    def errors_logged(self, since: dict[str, int]) -> list[str]:
        """The services' ERROR records (and any deadlock) written since the
        offsets `since`, by service: "chain: unhandled error in ...", first line."""
        found = []
        for service in self.services():
            with open(service.log_path, "rb") as log:
                log.seek(since.get(service.name, 0))
                for raw in log.read().decode(errors="replace").splitlines():
                    try:
                        record = json.loads(raw)
                    except ValueError:
                        continue
                    message = str(record.get("message", ""))
                    if record.get("level") in ("ERROR", "CRITICAL") or "deadlock" in message:
                        found.append(f"{service.name}: {record.get('level')} {message.splitlines()[0][:160]}")
        return found

    # What must not be lost.

    def look_for_everything(self, tally: Tally) -> None:
        waiting = self.wait_for_takes(tally)
        for take_id in waiting:
            tally.lost.append(f"take {take_id} still {waiting[take_id]} {DRAIN_S:.0f}s after the phase")
        with ThreadPoolExecutor(8) as pool:
            unreadable = [c for c in pool.map(self.readable, list(self.ledger.chains.items())) if c]
        tally.lost += unreadable
        sample = random.sample(sorted(self.ledger.chains.items()), min(12, len(self.ledger.chains)))
        with ThreadPoolExecutor(8) as pool:
            tally.lost += [gap for gap in pool.map(self.event_gap, sample) if gap]

    def readable(self, item: tuple[str, str]) -> str | None:
        chain_id, user = item
        with self.stack.client(user) as client:
            try:
                reply = self.retrying(lambda: client.get(f"/api/chains/{chain_id}"))
            except httpx.HTTPError as error:
                return f"chain {chain_id}: GET -> no answer ({type(error).__name__})"
        return None if reply.status_code == 200 else f"chain {chain_id}: GET -> {reply.status_code} {reply.text[:200]}"

    @staticmethod
    def retrying(ask, tries: int = 10) -> httpx.Response:
        """An answer other than 503 (a fault mended a moment ago can still be
        felt); a request with no answer is asked again as well."""
        for attempt in range(tries):
            try:
                reply = ask()
            except httpx.HTTPError:
                if attempt == tries - 1:
                    raise
                time.sleep(1)
                continue
            if reply.status_code != 503:
                return reply
            time.sleep(float(reply.headers.get("Retry-After", "1")))
        return reply

    def event_gap(self, item: tuple[str, str]) -> str | None:
        chain_id, user = item
        with self.stack.client(user) as client:
            try:
                seqs = read_seqs(client, chain_id)
            except httpx.HTTPError as error:
                return f"events of {chain_id}: {type(error).__name__} {error}"
        if seqs is None:
            return f"events of {chain_id}: no stream"
        if seqs != list(range(1, len(seqs) + 1)):
            return f"events of {chain_id} not contiguous: {seqs}"
        return None

    def wait_for_takes(self, tally: Tally) -> dict[str, str]:
        """Every take asked for, till it has ended; those still not ended, with their status."""
        with self.ledger.lock:
            waiting = dict(self.ledger.takes)
        open_ = {}
        deadline = time.monotonic() + DRAIN_S
        while waiting and time.monotonic() < deadline:
            by_chain = defaultdict(list)
            for take_id, (chain_id, user) in waiting.items():
                by_chain[(chain_id, user)].append(take_id)
            open_ = {}
            for (chain_id, user), ids in by_chain.items():
                with self.stack.client(user) as client:
                    nodes, answered = {}, True
                    for path in (f"/api/chains/{chain_id}", f"/api/chains/{chain_id}/bin"):
                        try:
                            reply = self.retrying(lambda p=path: client.get(p))
                        except httpx.HTTPError:
                            answered = False
                            continue
                        if reply.status_code == 200:
                            nodes.update({n["id"]: n for n in reply.json()["nodes"]})
                        else:
                            answered = False
                for take_id in ids:
                    node = nodes.get(take_id)
                    if node is None and not answered:
                        open_[take_id] = "unread (its chain did not answer)"
                    elif node is None:
                        open_[take_id] = "nowhere (neither in its chain nor in its bin)"
                    elif node["status"] in ("pending", "generating"):
                        open_[take_id] = node["status"]
                    elif node["status"] == "error" and (not node["error_msg"] or NOT_WORDS.search(node["error_msg"])):
                        tally.lost.append(f"take {take_id} error not in words: {node['error_msg']!r}")
                        self.done(take_id)
                    else:
                        if node["status"] == "error":
                            tally.notes.append(f"take in error: {node['error_msg']}")
                        self.done(take_id)
            waiting = {k: v for k, v in waiting.items() if k in open_}
            if waiting:
                time.sleep(1.0)
        return open_

    def done(self, take_id: str) -> None:
        with self.ledger.lock:
            self.ledger.takes.pop(take_id, None)

    # The faults.

    def kill_generation(self, tally: Tally) -> None:
        busy = self.wait_busy()
        self.stack.generation.kill()
        tally.notes.append(f"generation SIGKILLed {'mid-take' if busy else 'with no take in hand (none came in 20 s)'}")
        time.sleep(2)
        self.stack.start_generation()

    def wait_busy(self) -> bool:
        deadline = time.monotonic() + 20
        with self.stack.client("ann") as client:
            while time.monotonic() < deadline:
                with suppress(httpx.HTTPError, KeyError, ValueError):
                    workers = client.get("/api/gpu").json()
                    if any(w.get("busy") for w in workers.get("generation", [])):
                        return True
                time.sleep(0.2)
        return False

    def kill_chain(self, tally: Tally) -> None:
        chain = self.stack.chain
        chain.kill()
        tally.notes.append("chain SIGKILLed")
        time.sleep(2)
        chain.start()
        chain.wait_until(lambda: grpc_serving(f"127.0.0.1:{chain.env['CHAIN_PORT']}"))

    def cut_database(self, tally: Tally) -> None:
        self.proxy.cut()
        time.sleep(5)
        self.proxy.open()
        tally.notes.append("PostgreSQL cut for 5 s")

    def break_storage(self, tally: Tally) -> None:
        with unwritable(self.stack):
            time.sleep(5)
        tally.notes.append("uploads folder unwritable for 5 s")
        try:
            with full(self.stack):
                time.sleep(5)
            tally.notes.append("uploads folder full for 5 s")
        except BaseException as refused:  # pytest.skip's exception when mounting is refused
            if type(refused).__name__ != "Skipped":
                raise
            tally.notes.append(f"full storage not tried: {refused}")

    def prepare_races(self) -> None:
        """Before the clients start: a chain of erin's with 21 ready takes of its
        root, 20 to commit at once and one to discard and restore at once."""
        with self.stack.client("erin") as client:
            made = client.post("/api/chains", files={"file": ("race.wav", self.clips[1])}).json()
            chain_id, root_id = made["id"], made["root"]["id"]
            with self.ledger.lock:
                self.ledger.chains[chain_id] = "erin"
            takes = []
            for counts in ((8, 8), (5,)):  # 8 a request at most, 16 waiting at once for a paid user
                asked = []
                for count in counts:
                    reply = self.retrying(lambda c=count: client.post(
                        f"/api/nodes/{root_id}/takes", json={"count": c, "duration_s": TAKE_SECONDS}
                    ))
                    if reply.status_code != 202:
                        raise RuntimeError(f"takes for the races: {reply.status_code} {reply.text[:200]}")
                    asked += [n["id"] for n in reply.json()["nodes"]]
                self.wait_ready(client, chain_id, asked)
                takes += asked
        self.race_chain, self.race_takes = chain_id, takes

    def races(self, tally: Tally) -> None:
        """One take discarded by 20 at once, restored by 20, then 20 sibling takes
        committed by 20 at once (one winner each time), then 20 undos at once."""
        chain_id, (odd, *siblings) = self.race_chain, self.race_takes
        self.race(tally, "erin", [("DELETE", f"/api/nodes/{odd}")] * 20, "discard one take")
        self.race(tally, "erin", [("POST", f"/api/nodes/{odd}/restore")] * 20, "restore it")
        self.race(tally, "erin", [("POST", f"/api/nodes/{t}/commit") for t in siblings], "commit 20 siblings")
        undone = self.race(tally, "erin", [("POST", f"/api/chains/{chain_id}/undo")] * 20, "undo", one_winner=False)
        # Three moves were made (discard, restore, commit): no more than three undos can be done.
        if len(undone) > 3:
            tally.lost.append(f"undo: {len(undone)} of 20 at once answered 200 after 3 moves")

    def race(self, tally: Tally, user: str, calls, what: str, one_winner: bool = True) -> list[int]:
        gate = threading.Barrier(len(calls))

        def go(call):
            method, url = call
            with self.stack.client(user) as client:
                gate.wait()
                started = time.perf_counter()
                try:
                    reply = client.request(method, url)
                except httpx.HTTPError as error:
                    tally.failed(f"race {what}", error, time.perf_counter() - started)
                    return None
                tally.answered(f"race {what}", reply, time.perf_counter() - started)
                return reply.status_code

        with ThreadPoolExecutor(len(calls)) as pool:
            codes = list(pool.map(go, calls))
        winners = [i for i, code in enumerate(codes) if code == 200]
        tally.notes.append(f"race {what}: {dict(Counter(codes))}")
        if one_winner and len(winners) != 1:
            tally.lost.append(f"race {what}: {len(winners)} winners of 20 ({dict(Counter(codes))})")
        return winners

    def wait_ready(self, client: httpx.Client, chain_id: str, ids: list[str]) -> None:
        deadline = time.monotonic() + DRAIN_S
        while time.monotonic() < deadline:
            nodes = {n["id"]: n for n in self.retrying(lambda: client.get(f"/api/chains/{chain_id}")).json()["nodes"]}
            if all(nodes[i]["status"] == "ready" for i in ids):
                return
            if failed := [nodes[i] for i in ids if nodes[i]["status"] in ("error", "cancelled")]:
                raise RuntimeError(f"a take for the race ended {failed[0]['status']}: {failed[0]['error_msg']}")
            time.sleep(0.5)
        raise TimeoutError("takes for the race not ready")


def table(rows: list[tuple[str, Tally]]) -> str:
    lines = [
        f"{'phase':<22} {'requests':>8}  {'by status':<52} {'slowest':>7} {'hangs':>5} "
        f"{'bad 5xx/no Retry-After':>22} {'dropped':>7} {'lost':>4} {'log errors':>10} {'took':>5} {'bench lag':>9}"
    ]
    for name, tally in rows:
        statuses = " ".join(f"{code}:{n}" for code, n in sorted(tally.statuses.items()))
        bad = len(tally.bad)
        lines.append(
            f"{name:<22} {tally.requests:>8}  {statuses:<52} {tally.slowest:>6.1f}s {len(tally.hangs):>5} "
            f"{bad:>22} {len(tally.dropped):>7} {len(tally.lost):>4} {len(tally.log_errors):>10} {tally.took:>4.0f}s {tally.lag:>8.1f}s"
        )
    return "\n".join(lines)


def report(rows: list[tuple[str, Tally]]) -> None:
    for name, tally in rows:
        notes = Counter(tally.notes)
        print(f"\n[{name}] slowest: {tally.slowest:.2f}s ({tally.slowest_what})")
        for note, n in notes.items():
            print(f"  note: {note}" + (f" (x{n})" if n > 1 else ""))
        for label, items in (("5xx or no Retry-After", tally.bad), ("hang", tally.hangs),
                             ("dropped", tally.dropped), ("lost", tally.lost), ("log", tally.log_errors)):
            # Alike findings once, with the time of the first and how many.
            seen: dict[str, tuple[str, int]] = {}
            for item in items:
                when, _, what = item.partition(" ") if item.startswith("t+") else ("", "", item)
                first, n = seen.get(what, (when, 0))
                seen[what] = (first, n + 1)
            for what, (when, n) in list(seen.items())[:10]:
                print(f"  {label}: {when + ' ' if when else ''}{what}" + (f" (x{n})" if n > 1 else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=90.0, help="the load-only phase")
    parser.add_argument("--fault-seconds", type=float, default=30.0, help="each fault phase (at most --seconds)")
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--no-analysis", action="store_true")
    parser.add_argument("--stems", action="store_true", help="a stems worker too (tiny random HTDemucs)")
    args = parser.parse_args()
    fault_s = min(args.fault_seconds, args.seconds)

    database = f"sparrow_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    proxy = Proxy(POSTGRES)
    proxy.open()
    try:
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            model = build_random_musicgen(root / "tiny-musicgen")
            stems_model = None
            if args.stems:
                from sparrow_stems.engine.tiny import SIX_STEMS, build_random_htdemucs

                stems_model = build_random_htdemucs(root / "tiny-htdemucs")
                build_random_htdemucs(stems_model, name="htdemucs_6s", sources=SIX_STEMS, seed=6)
            (root / "stack").mkdir()
            stack = start_stack(
                root / "stack", model, stems_model=stems_model, analysis=not args.no_analysis,
                chain_env={
                    "CHAIN_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/{database}",
                    "CHAIN_DATABASE_TIMEOUT_S": "2",
                },
            )
            try:
                bench = Bench(stack, proxy, args.clients)
                rows = [
                    bench.phase("1 load", args.seconds),
                    bench.phase("2 generation killed", fault_s, bench.kill_generation),
                    bench.phase("3 chain killed", fault_s, bench.kill_chain),
                    bench.phase("4 PostgreSQL cut 5s", fault_s, bench.cut_database),
                    bench.phase("5 storage unwr./full", fault_s, bench.break_storage),
                    bench.phase("6 20-way races", fault_s, bench.races, bench.prepare_races),
                ]
            finally:
                stack.stop()
                logs = {p.name: p.log_path for p in (stack.chain, stack.gateway, stack.generation, *stack.others)}
                tracebacks = {n: p.read_text(errors="replace").count("Traceback") for n, p in logs.items() if p}
                kept = Path(tempfile.gettempdir()) / database
                kept.mkdir()
                for name, path in logs.items():
                    if path and path.exists():
                        shutil.copy(path, kept / f"{name}.log")
    finally:
        if proxy.listener is not None:
            proxy.cut()
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{database}" WITH (FORCE)')

    print(f"\n{args.clients} clients; load {args.seconds:.0f}s, each fault phase {fault_s:.0f}s; "
          f"takes of {TAKE_SECONDS:.0f}s from a tiny random MusicGen")
    print(table(rows))
    report(rows)
    print(f"\ntracebacks in the services' logs: {tracebacks} (the logs: {kept})")
    failed = [name for name, tally in rows if not tally.ok]
    print("\nDone when: " + ("holds" if not failed else f"fails in {', '.join(failed)}"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
