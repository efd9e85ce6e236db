"""What /api/gpu says of each worker: ready, loading its model, starting (not
answering yet just after the gateway started), failed (it answers, and says why
it can't work), or unreachable."""

from sparrow_common.errors import MODEL_LOADING
from sparrow_common.processes import free_port
from sparrow_gateway.capacity import STARTING_S, CapacityClient, state
from sparrow_gateway.config import Settings


def test_a_worker_loading_its_model_is_loading_and_one_that_could_not_is_failed():
    assert state(True, True, None, True, False) == "ready"
    assert state(True, False, MODEL_LOADING, True, False) == "loading"
    assert state(True, False, "could not load MusicGen model 'x'", True, False) == "failed"


def test_a_worker_seen_before_and_gone_is_unreachable_even_just_after_the_start():
    assert state(False, False, None, seen=True, starting=True) == "unreachable"
    assert state(False, False, None, seen=False, starting=True) == "starting"
    assert state(False, False, None, seen=False, starting=False) == "unreachable"


async def test_a_worker_never_answering_is_starting_at_first_then_unreachable():
    now = [0.0]
    settings = Settings(generation_addrs=f"127.0.0.1:{free_port()}", stems_addrs="")
    capacity = CapacityClient(settings, clock=lambda: now[0])
    try:
        (first,) = await capacity.generation()
        now[0] = STARTING_S + 1
        (later,) = await capacity.generation()
    finally:
        await capacity.close()
    assert (first["state"], later["state"]) == ("starting", "unreachable")
    assert not first["reachable"] and "unreachable" in later["reason"]
