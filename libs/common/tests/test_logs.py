import contextvars
import json
import logging

import pytest
from sparrow_common import request_id
from sparrow_common.logs import setup_logging


@pytest.fixture(autouse=True)
def _root_logger_restored():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _line(capsys, fmt: str, rid: str | None) -> str:
    setup_logging(service="chain", fmt=fmt)

    def log() -> None:
        if rid:
            request_id.use(rid)
        logging.getLogger("sparrow_chain.dispatch").info("take n1 ready")

    contextvars.copy_context().run(log)
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_text_lines_say_which_service_spoke_and_the_request_only_when_there_is_one(capsys):
    during = _line(capsys, "text", "req-42")
    assert " chain INFO sparrow_chain.dispatch [req-42]: take n1 ready" in during
    idle = _line(capsys, "text", None)
    assert idle.endswith(" chain INFO sparrow_chain.dispatch: take n1 ready")


def test_json_lines_carry_service_request_id_and_message(capsys):
    record = json.loads(_line(capsys, "json", "req-42"))
    assert record["service"] == "chain"
    assert record["request_id"] == "req-42"
    assert record["level"] == "INFO"
    assert record["message"] == "take n1 ready"
