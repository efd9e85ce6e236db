"""Clients ping no more often than servers allow, from one setting."""

from __future__ import annotations

import pytest

from sparrow_common import channels
from sparrow_common.server import KEEPALIVE_ENV, keepalive_s, server_options


@pytest.mark.parametrize("seconds", ["1", "30", "0.5"])
def test_servers_allow_the_pings_clients_send(monkeypatch, seconds):
    monkeypatch.setenv(KEEPALIVE_ENV, seconds)
    server = dict(server_options())
    client = dict(channels._keepalive())
    assert server["grpc.http2.min_ping_interval_without_data_ms"] <= client["grpc.keepalive_time_ms"]
    assert server["grpc.keepalive_permit_without_calls"] == client["grpc.keepalive_permit_without_calls"] == 1
    assert client["grpc.keepalive_time_ms"] == int(float(seconds) * 1000)


def test_thirty_seconds_unless_told(monkeypatch):
    monkeypatch.delenv(KEEPALIVE_ENV, raising=False)
    assert keepalive_s() == 30.0


@pytest.mark.parametrize("raw", ["0", "-1", "soon"])
def test_a_keepalive_that_is_no_number_of_seconds_is_refused_in_words(monkeypatch, raw):
    monkeypatch.setenv(KEEPALIVE_ENV, raw)
    with pytest.raises(ValueError, match=KEEPALIVE_ENV):
        keepalive_s()
