import asyncio
from concurrent.futures import ThreadPoolExecutor

from sparrow_common.slots import Slots
from sparrow_common.work import PROGRESS_STEPS, Finished, run_blocking, wait_for_slot


def steps_of(total: int):
    def work(on_step, cancel):
        for done in range(total + 1):
            on_step(done, total)
        return "made"

    return work


async def run(total: int, slots: Slots | None = None) -> tuple[list[tuple[int, int]], object]:
    slots = slots or Slots(1, 1)
    async for _ in wait_for_slot(slots):
        pass
    seen, result = [], None
    with ThreadPoolExecutor(1) as executor:
        async for update in run_blocking(executor, slots, steps_of(total)):
            if isinstance(update, Finished):
                result = update.value
            else:
                seen.append((update.done, update.total))
    return seen, result


async def test_a_model_with_many_steps_passes_on_about_a_hundred_from_first_to_last():
    seen, result = await run(5000)
    assert result == "made"
    done = [d for d, _ in seen]
    assert done[0] == 0 and done[-1] == 5000  # the bar starts and ends
    assert done == sorted(set(done))
    assert PROGRESS_STEPS - 1 <= len(done) <= PROGRESS_STEPS + 2
    assert max(b - a for a, b in zip(done, done[1:])) <= 5000 // PROGRESS_STEPS


async def test_work_with_few_steps_passes_on_every_one():
    seen, _ = await run(12)
    assert seen == [(d, 12) for d in range(13)]


async def test_the_slot_is_free_again_afterwards():
    slots = Slots(1, 1)
    assert (await run(3, slots))[1] == "made"
    await asyncio.sleep(0)  # the release runs as the work's future completes
    assert slots.busy == 0
