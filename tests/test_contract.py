"""The REST API's contract, fuzzed: Schemathesis writes requests for every
operation of /openapi.json (valid ones and ones that break the schema) and sends
them to the real services on embedded defaults, with the tiny models. A hook
puts the ids of a real chain, a ready take and its stems in reach, so routes
with ids are exercised past their 404s. No reply may be a server error, carry
a status its route does not document, or differ from its documented schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from sparrow_common.testing.clips import make_clip

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Requests per operation and mode (valid, schema-breaking), about 500 in all: with
# the real ids mixed in, enough to reach each parameter's bad values and each
# route's 2xx, 404 and 422 (12 took half as long again and found nothing more;
# 25 twice as long, and passed alike).
EXAMPLES = 8
STEMS = ("drums", "bass", "other", "vocals")
# The fuzzing user: paid, like ann, and this module's alone on the shared stack,
# so that what the fuzz makes can all be deleted when it ends.
USER = "erin"


class RealIds:
    """A chain of the user's with a committed take (its stems made) on the spine and a
    ready take beside it. A fuzzed DELETE gets a chain of its own instead, made
    for it (an upload), so the real one stays."""

    def __init__(self, stack):
        self.stack = stack
        with stack.client(USER) as client:
            chain = self._upload(client)
            root = chain["root"]["id"]
            committed = client.post(f"/api/nodes/{root}/branch", json={"duration_s": 1.0}).json()["id"]
            assert stack.wait_for(committed, user=USER)["status"] == "ready"
            assert client.post(f"/api/nodes/{committed}/commit").status_code == 200
            take = client.post(f"/api/nodes/{committed}/branch", json={"duration_s": 1.0}).json()["id"]
            assert stack.wait_for(take, user=USER)["status"] == "ready"
            assert client.post(f"/api/nodes/{committed}/stems").status_code == 202
        self.chain_id, self.nodes = chain["id"], [root, committed, take]

    @staticmethod
    def _upload(client) -> dict:
        reply = client.post("/api/chains", files={"file": ("idea.wav", make_clip("wav", seconds=1.0))})
        assert reply.status_code == 201, reply.text
        return reply.json()

    def fresh(self, name: str) -> str:
        """The id `name` of a chain made for a DELETE (its root, for a node's)."""
        with self.stack.client(USER) as client:
            chain = self._upload(client)
        return chain["id"] if name == "chain_id" else chain["root"]["id"]

    def choice(self, method: str, name: str, value) -> st.SearchStrategy:
        """`value` as generated, or a real one. A DELETE's chain is uploaded only
        when it is drawn: one for every draw, drawn or not, was a sixth of the fuzz."""
        if method == "DELETE" and name in ("chain_id", "parent_id", "node_id"):
            return st.one_of(st.just(value), st.builds(self.fresh, st.just(name)))
        real = {"chain_id": [self.chain_id], "parent_id": self.nodes, "node_id": self.nodes, "stem": list(STEMS)}
        return st.sampled_from([value, *real.get(name, [])])


@pytest.fixture(scope="module")
def real_ids(full_stack):
    yield RealIds(full_stack)
    # The fuzz asks for takes of up to two minutes: deleting its chains stops
    # them, leaving the shared generation worker to the modules after this one.
    with full_stack.client(USER) as client:
        while chains := client.get("/api/chains", params={"limit": 200}).json():
            for chain in chains:
                assert client.delete(f"/api/chains/{chain['id']}").status_code == 204


@pytest.fixture(scope="module")
def api_schema(full_stack, real_ids):
    schema = schemathesis.openapi.from_url(f"{full_stack.base_url}/openapi.json")

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        """Each id either as generated or a real one."""
        if not path_parameters:
            return st.just(path_parameters)
        method = context.operation.method.upper()
        return st.fixed_dictionaries(
            {name: real_ids.choice(method, name, value) for name, value in path_parameters.items()}
        )

    @schema.hook
    def map_body(context, body):
        """Valid takes asked by the fuzz (of a chain from words, or of a node)
        are one of a second: a body's 8 takes of 120 s each kept the shared
        generation worker busy for minutes, slowing every module beside this one.
        What the fuzz checks (statuses, schemas) is the same."""
        if context.operation.method.upper() == "POST" and isinstance(body, dict):
            # Only values in range: the ones out of it stay, to be refused.
            duration, count = body.get("duration_s"), body.get("count")
            if isinstance(duration, (int, float)) and not isinstance(duration, bool) and 1 <= duration <= 120:
                body["duration_s"] = 1.0
            if isinstance(count, int) and not isinstance(count, bool) and 1 <= count <= 8:
                body["count"] = 1
        return body

    return schema


def fuzz(operation, mode: GenerationMode, key: str) -> str | None:
    """EXAMPLES requests for one operation; -> the first failure, in words."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
        suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate],
    )
    def run(case):
        response = case.call(headers={"X-API-Key": key}, timeout=60)
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:  # nothing of the operation's to break (it has no parameters): nothing to send
        return None
    except (Exception, BaseExceptionGroup) as failure:  # every failure is reported, for every operation
        return f"{operation.label} ({mode}): {failure}"
    return None


def test_no_reply_is_a_server_error_or_off_its_documented_schema(api_schema, full_stack):
    failures = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 20
    for operation in operations:
        if operation.path.endswith("/events"):
            # The stream never ends by itself: its parameters' refusals are tested in
            # test_chain_flow.py, and a plain GET of it below.
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures.append(fuzz(operation, mode, full_stack.keys[USER]))
    failures = [failure for failure in failures if failure]
    assert not failures, "\n\n".join(failures)


def test_the_event_stream_opens_as_documented(full_stack, real_ids):
    chain_id = real_ids.chain_id
    with full_stack.client(USER) as client, client.stream("GET", f"/api/chains/{chain_id}/events") as events:
        assert events.status_code == 200
        assert events.headers["content-type"].startswith("text/event-stream")
    with full_stack.client(USER) as client:
        assert client.get(f"/api/chains/{chain_id}/events", params={"after": "x"}).status_code == 422
