import socket

from sparrow_common.processes import _ephemeral_floor, free_port


def test_free_ports_are_distinct_bindable_and_below_the_ephemeral_range():
    """An outgoing connection takes its source port from the ephemeral range; a
    port handed out for a service to bind later must never be one of those."""
    low = _ephemeral_floor()
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)
    assert all(1024 <= p < low for p in ports)
    with socket.socket() as s:
        s.bind(("127.0.0.1", ports[-1]))


def test_parallel_test_workers_hand_out_ports_from_slices_of_their_own(monkeypatch):
    """Two test workers starting services at once never give one port to both."""
    low = _ephemeral_floor()
    halves = []
    for worker in ("gw0", "gw1"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
        halves.append({free_port() for _ in range(30)})
    assert max(halves[0]) < min(halves[1]) < low
