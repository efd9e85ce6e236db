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
