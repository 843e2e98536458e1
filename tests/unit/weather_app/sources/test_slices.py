"""`in_slices`: every item once, in order, with the event loop turning between slices."""

from tests.unit.loop_turns import counting_loop_turns
from weather_app.sources.slices import in_slices


async def test_every_item_comes_once_in_order_a_slice_at_a_time():
    slices = [list(chunk) async for chunk in in_slices(range(10), size=4)]
    assert slices == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    empty: list[int] = []
    assert [chunk async for chunk in in_slices(empty, size=4)] == []


async def test_the_loop_turns_before_every_slice_but_the_first():
    seen: list[int] = []
    async with counting_loop_turns() as turns:
        async for _ in in_slices(range(1000), size=100):
            seen.append(turns.count)
    assert seen == list(range(10))
