"""`--ordered`'s parts: the read-ahead bound and the reorder buffer."""

from __future__ import annotations

import asyncio

from cloudburst._ordered import ReadAhead, Reorder


def test_a_slow_early_prompt_holds_back_at_most_the_window() -> None:
    async def scenario() -> list[int]:
        read_ahead = ReadAhead([f"p{i}" for i in range(10)], window=3)
        pulled: list[str] = []

        async def pull() -> None:
            async for prompt in read_ahead:
                pulled.append(prompt)

        puller = asyncio.ensure_future(pull())
        seen = []
        for finish in (1, 2, 0, 3, 4, 5, 6, 7, 8, 9):  # p0 is slow: p1 and p2 end first
            await asyncio.sleep(0.01)
            seen.append(len(pulled))
            read_ahead.done(finish)
        await puller
        return seen

    seen = asyncio.run(scenario())
    assert seen[:3] == [3, 3, 3]  # with p0 unfinished, nothing past the window is read
    assert seen[3] == 6  # p0 done: p0-p2 all have results, three more are read


def test_reorder_writes_runs_in_index_order_skipping_what_is_written_already() -> None:
    written: list[list[bytes]] = []
    reorder = Reorder(written.append)
    reorder.put(2, b"2")
    reorder.put(1, b"1")
    assert written == []
    reorder.skip(0)  # restored from the journal: in the file already
    assert written == [[b"1", b"2"]]
    reorder.put(5, b"5")
    reorder.put(3, b"3")
    assert written[-1] == [b"3"] and reorder.held == {5: b"5"}
    reorder.flush()  # the job ended without 4's result: 5 is not lost
    assert written[-1] == [b"5"] and reorder.held == {}
