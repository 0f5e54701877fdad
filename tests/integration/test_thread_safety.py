"""What worker threads read of the daemon (the live streams render runs, their waiting
reasons and the GPUs off the event loop) while the loop starts and ends attempts: with a
forced tiny switch interval, thousands of reads and not one error."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable

import orjson

from runyard.service import runs
from runyard.service.gpus import describe_gpus
from runyard.service.streams import QueueFeed, queue_state, queue_stream
from runyard.store.tables import Run
from tests.conftest import submit, wait_for

READS = 5000
OUTSIDE = {"processes": [{"pid": 1, "used_mib": 20000}]}  # GPU 3: held by a process that is not runyard's


async def test_threads_read_the_queue_while_runs_start_and_end(yard, gpus):
    gpus.set({}, {}, {}, OUTSIDE)
    yard.read_gpus()
    pinned = submit(yard, "true", gpu_ids=[3], gpus_min=1)  # queued all along, with a reason
    errors: list[BaseException] = []
    reads = 0
    done = threading.Event()

    def reader() -> None:
        nonlocal reads
        with yard.sessions() as session:
            run = session.get(Run, pinned)
            while not done.is_set():
                try:
                    yard.waiting_reasons(session, [run])
                    describe_gpus(yard, history=True)
                    if reads % 50 == 0:  # the whole of what a queue client gets, now and then
                        queue_state(yard)
                except Exception as error:  # every error is the finding
                    errors.append(error)
                reads += 1

    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    threads = [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    started = 0
    try:
        while reads < READS or started < 30:
            batch = [submit(yard, "true", gpus_min=i % 2, gpu_mem_mib=1000) for i in range(6)]
            for run_id in batch:
                await wait_for(yard, run_id, timeout=60)
            started += len(batch)
    finally:
        done.set()
        for thread in threads:
            thread.join()
        sys.setswitchinterval(before)
    print(f"{reads} reads, {started} runs, {len(errors)} errors")
    assert (errors[:3], reads >= READS) == ([], True)
    assert "GPU 3" in runs.get_run(yard, pinned)["waiting_for"]


async def _until(stream: AsyncIterator[str], wanted: Callable[[dict], bool], timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        item = orjson.loads(await asyncio.wait_for(anext(stream), deadline - time.monotonic()))
        if wanted(item):
            return item


async def test_a_failing_queue_feed_is_logged_and_goes_on(yard, caplog):
    """A feed pass that fails (here: a finished run whose stored spec no longer renders)
    must not end the feed: queue clients are told they missed something, get a fresh
    state, and still get the changes after it."""
    feed = QueueFeed(yard)
    stream = queue_stream(yard, feed)
    await _until(stream, lambda m: m["kind"] == "state")
    broken = submit(yard, "true", gpus_min=0)
    await wait_for(yard, broken)
    with yard.sessions.begin() as session:
        session.get(Run, broken).spec = {"not": "a spec"}
    yard.bus.publish({"run_id": broken, "kind": "status", "data": {}, "time": 0.0})
    await _until(stream, lambda m: m["kind"] == "missed")
    await _until(stream, lambda m: m["kind"] == "state")
    assert "queue feed" in caplog.text
    fine = submit(yard, "true", gpus_min=0)
    await _until(stream, lambda m: m["kind"] == "run" and m["run_id"] == fine)
    await stream.aclose()
