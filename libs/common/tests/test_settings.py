"""A setting a service does not read is said at start, with what it most likely
meant: a misspelt or renamed variable must not pass for a default."""

from __future__ import annotations

import logging

from pydantic_settings import BaseSettings, SettingsConfigDict

from sparrow_common.processes import ServiceProcess, free_port, grpc_serving
from sparrow_common.settings import say_unread, unread


class Knobs(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_")

    port: int = 1
    lease_s: float = 30.0
    blob_dir: str = "./data"


def test_a_misspelt_or_renamed_variable_is_named_with_the_setting_it_meant():
    environ = {
        "DEMO_PORT": "2",  # read
        "demo_blob_dir": "/x",  # read: names are compared without regard to case
        "DEMO_LEASE": "10",  # renamed since: the unit came into the name
        "DEMO_BLOBDIR": "/y",  # misspelt
        "DEMO_COLOUR": "red",  # nothing like it
        "OTHER_LEASE": "5",  # another service's
    }
    assert unread(Knobs, environ) == {"DEMO_BLOBDIR": "DEMO_BLOB_DIR", "DEMO_COLOUR": None, "DEMO_LEASE": "DEMO_LEASE_S"}


def test_each_unread_variable_is_one_warning(caplog):
    with caplog.at_level(logging.WARNING):
        say_unread(Knobs, {"DEMO_LEASE": "10", "DEMO_PORT": "3"})
    assert [r.getMessage() for r in caplog.records] == [
        "DEMO_LEASE is not a setting of this service and is ignored (did you mean DEMO_LEASE_S?)"
    ]


def test_a_service_started_with_a_misspelt_variable_says_so_and_serves(tmp_path):
    port = free_port()
    export = ServiceProcess(
        "export", "sparrow_export",
        {"EXPORT_PORT": str(port), "EXPORT_METRICS_PORT": "0", "EXPORT_GRACE_SECONDS": "1", "SPARROW_LOG_FORMAT": "text"},
        tmp_path,
    ).start()
    try:
        export.wait_until(lambda: grpc_serving(f"127.0.0.1:{port}"), timeout=60)
        assert "EXPORT_GRACE_SECONDS is not a setting of this service and is ignored (did you mean EXPORT_GRACE_S?)" in (
            export.log()
        )
    finally:
        export.terminate()
