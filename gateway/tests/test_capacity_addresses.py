"""/api/gpu asks every worker behind a name: plain host:port or a gRPC dns:/// target."""

from sparrow_gateway.capacity import _expand


def test_a_name_becomes_one_address_per_resolved_ip():
    addresses = _expand("localhost:50052")
    assert "127.0.0.1:50052" in addresses and set(addresses) <= {"127.0.0.1:50052", "[::1]:50052"}


def test_a_dns_target_is_resolved_like_a_plain_name():
    assert _expand("dns:///localhost:50052") == _expand("localhost:50052")
    assert _expand("dns:localhost:50052") == _expand("localhost:50052")


def test_an_address_that_does_not_resolve_is_kept_as_given():
    assert _expand("no-such-worker.invalid:50052") == ["no-such-worker.invalid:50052"]
