"""The GPU monitor: reads the inventory every ``gpu_poll_s``, tells runyard's own processes
from other users' (whose memory makes a GPU busy), and keeps the readings the GPUs page
charts. What the planner sees of the GPUs is its :attr:`GpuMonitor.gpu_view`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping

import psutil

from runyard.context import GpuSample
from runyard.daemon.attempts import LiveAttempt
from runyard.gpus.inventory import GpuReading, Inventory, gpu_states
from runyard.scheduler.planner import GpuState
from runyard.settings import Settings

log = logging.getLogger(__name__)
HISTORY = 300  # GPU readings kept for the GPUs page, one per poll


class GpuMonitor:
    def __init__(self, inventory: Inventory, settings: Settings, live: Mapping[int, LiveAttempt]) -> None:
        """``live``: the supervisor's live attempts, read on the loop's thread only."""
        self.inventory = inventory
        self.settings = settings
        self._live = live
        self.readings: list[GpuReading] = []
        self.gpu_view: tuple[GpuState, ...] = ()
        self.own_pids: dict[int, int] = {}
        self.history: tuple[GpuSample, ...] = ()

    def gpu_indices(self) -> list[int]:
        return [g.index for g in self.readings]

    def gpu_memory(self) -> dict[int, int]:
        return {g.index: g.memory_mib for g in self.readings}

    def runyard_pids(self) -> dict[int, int]:
        """Every process of runyard's live attempts (shims and all they started) → its run."""
        pids: dict[int, int] = {}
        for live in self._live.values():
            if live.handle is None:
                continue
            pids[live.handle.pid] = live.run_id
            try:
                for child in psutil.Process(live.handle.pid).children(recursive=True):
                    pids[child.pid] = live.run_id
            except psutil.Error:
                pass
        return pids

    def read(self, readings: list[GpuReading] | None = None) -> bool:
        """Take a reading of the inventory (or use ``readings``); True when what the
        planner sees changed."""
        self.readings = self.inventory.read() if readings is None else readings
        claimed = {g: a.gpu_mem_mib or 0 for a in self._live.values() for g in a.gpus}
        self.own_pids = self.runyard_pids()
        view = tuple(gpu_states(self.readings, set(self.own_pids), self.settings.external_mem_threshold_mib, claimed))
        changed = view != self.gpu_view
        self.gpu_view = view
        sample = (time.time(), tuple((r.index, r.used_mib, r.utilization) for r in self.readings))
        self.history = (*self.history[1 - HISTORY:], sample)
        return changed

    async def loop(self, changed: Callable[[bool], None], readings_moved: Callable[[], None]) -> None:
        """Poll for ever: ``changed(planner_view_changed)`` after each reading,
        ``readings_moved()`` when the readings themselves differ from the last ones."""
        while True:
            await asyncio.sleep(self.settings.gpu_poll_s)
            try:
                # Only the reading (NVML, a file) leaves the loop's thread: the live attempts are not locked.
                before = self.readings
                changed(self.read(await asyncio.to_thread(self.inventory.read)))
                if self.readings != before:
                    readings_moved()
            except Exception:
                log.exception("reading the GPU inventory failed")
