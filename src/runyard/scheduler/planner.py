"""The planner: which queued runs start now, on which GPUs — a pure function, no I/O.

The scheduler loop gathers a :class:`ClusterState` (GPUs as the inventory sees them, the
claims of runyard's live attempts, held swap locks, CPU slots) and the queue, calls
:func:`plan`, and starts what it returns. Keeping this pure lets the rules below be
tested exhaustively, and makes invariant 5 (same queue and inventory → same decision) hold.

Rules, in the order a pass applies them:

* **Order.** Ascending ``order_key`` (see :func:`order_key`), ties by run id.
* **CPU runs** (``gpus_max == 0``, nothing pinned) need one of ``cpu_slots``; they never
  wait for GPUs, and GPU runs never wait for CPU slots.
* **Exclusive runs** (``gpu_mem_mib is None``) take GPUs with no claim at all that are not
  ``external_busy``; lowest index first.
* **Shared runs** take GPUs with no exclusive claim and enough memory left after outside
  use, claims and this pass's earlier assignments. ``external_busy`` alone does not stop a
  shared run: it already says how much memory it needs, so only memory counts. Best fit
  (least memory left that still fits) packs small runs together and keeps big holes open.
* **GPU counts.** A run needs ``gpus_min`` usable GPUs (at least 1) and takes up to
  ``gpus_max``; a pinned run (``gpu_ids``) needs exactly those.
* **Locks** (hot-swap targets): a run waits while any of its locks is held, or taken by a
  run started earlier in the pass (or reserved, below), so two runs never see each
  other's swap.
* **EASY backfill.** The first GPU run in order that cannot start is *reserved*: it keeps
  the GPUs it will use (the usable ones it would take, plus the soonest-freed busy ones)
  and its locks. Later runs may use those only if their ``timeout_s`` ends them by the
  *shadow time*, when every reserved GPU is free according to claim deadlines; with an
  unknown deadline there is no shadow time and no such exception. Only one run is
  reserved per pass (classic EASY): enough to stop a big run being starved by a stream of
  small ones, since each pass reserves for whoever is first in line. A run that can never
  fit (more GPUs or memory than runyard may use) reserves nothing.

Speed: a pass over 10,000 mostly blocked runs must take milliseconds. Runs of the same
shape (GPU count, memory, pinned GPUs) fail alike until something starts, so failures are
cached by shape, and the scan stops once no GPU and no CPU slot is left
(``benchmarks/bench_planner.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress
from operator import attrgetter, eq, le

_INF = float("inf")
_BIG = 1 << 62


@dataclass(frozen=True, slots=True)
class GpuState:
    """One GPU as the planner sees it; ``external_*`` describe processes not runyard's."""

    index: int
    memory_mib: int
    external_mib: int = 0
    external_busy: bool = False
    external_pids: tuple[int, ...] = ()  # only to explain why a GPU is busy


@dataclass(frozen=True, slots=True)
class Claim:
    """A live runyard attempt on one GPU. ``mem_mib`` None: exclusive; ``deadline`` None: unknown."""

    run_id: int
    gpu_index: int
    mem_mib: int | None = None
    deadline: float | None = None


@dataclass(frozen=True, slots=True)
class Pending:
    """A queued run, reduced to what placement needs. ``gpus_max == 0``: a CPU run;
    ``gpus_min`` 0 with ``gpus_max`` > 0 still needs one GPU to start."""

    run_id: int
    order_key: float
    gpus_min: int = 1
    gpus_max: int = 1
    gpu_mem_mib: int | None = None
    gpu_ids: tuple[int, ...] | None = None
    timeout_s: float | None = None
    locks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ClusterState:
    gpus: tuple[GpuState, ...]
    claims: tuple[Claim, ...] = ()
    held_locks: frozenset[str] = frozenset()
    cpu_slots: int = 1
    cpu_running: int = 0
    now: float = 0.0


@dataclass(frozen=True, slots=True)
class Assignment:
    run_id: int
    gpus: tuple[int, ...]


def order_key(priority: int, submitted_at: float, ageing_s: float) -> float:
    """Queue position key, smaller first: ``submitted_at - priority * ageing_s``.

    Waiting ``ageing_s`` seconds is worth one priority level, so a low-priority run is
    eventually ahead of newer high-priority ones. Because both runs age at the same rate
    the order never changes with time, so the key can be stored and indexed once.
    """
    return submitted_at - priority * ageing_s


def plan(queue: Sequence[Pending], state: ClusterState) -> list[Assignment]:
    """The runs to start now, in queue order, with their GPUs (empty tuple: a CPU run)."""
    return _Pass(state, explaining=False).scan(_ordered(queue))


def explain(queue: Sequence[Pending], state: ClusterState) -> dict[int, str]:
    """For every queued run, one short sentence: why it waits, or where it is about to start."""
    scan = _Pass(state, explaining=True)
    scan.scan(_ordered(queue))
    return scan.reasons


def _ordered(queue: Sequence[Pending]) -> Sequence[Pending]:
    # The store usually hands the queue over sorted; checking is cheaper than sorting.
    keys = [p.order_key for p in queue]
    if all(map(le, keys, keys[1:])):
        ties = compress(range(len(keys) - 1), map(eq, keys, keys[1:]))
        if all(queue[i].run_id < queue[i + 1].run_id for i in ties):
            return queue
    # Two stable sorts on plain numbers beat one sort on (order_key, run_id) tuples by 2x.
    return sorted(sorted(queue, key=attrgetter("run_id")), key=attrgetter("order_key"))


def _gpus_word(indices: Sequence[int]) -> str:
    return ("GPU " if len(indices) == 1 else "GPUs ") + ",".join(map(str, indices))


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


class _Pass:
    """The working state of one planning pass; GPUs are addressed by position in ``gpus``."""

    def __init__(self, state: ClusterState, explaining: bool) -> None:
        self.state = state
        self.explaining = explaining
        self.reasons: dict[int, str] = {}
        gpus = state.gpus
        self.position = {g.index: i for i, g in enumerate(gpus)}
        self.by_index = sorted(range(len(gpus)), key=lambda i: gpus[i].index)
        self.free_mib = [g.memory_mib - g.external_mib for g in gpus]
        self.busy = [g.external_busy for g in gpus]
        self.exclusive = [False] * len(gpus)
        # (run id, MiB or None for exclusive, deadline) of every claim on each GPU
        self.holders: list[list[tuple[int, int | None, float | None]]] = [[] for _ in gpus]
        for claim in state.claims:
            pos = self.position.get(claim.gpu_index)
            if pos is not None:
                self._hold(pos, claim.run_id, claim.mem_mib, claim.deadline)
        self.cpu_used = state.cpu_running
        self.taken_locks: dict[str, int] = {}  # lock -> run started this pass
        self.reserved_for: Pending | None = None
        self.reserved: frozenset[int] = frozenset()
        self.shadow: float | None = None
        # Shapes that already failed against the current state: the key to scanning a long
        # mostly-blocked queue fast. Cleared whenever something starts.
        self.failed: dict[tuple[object, ...], str] = {}
        # Memory is monotonic: if a shared run needing M MiB on n GPUs cannot start, neither
        # can one needing more. Catches queues where every run asks a different amount.
        self.mem_floor: dict[tuple[int, bool], int] = {}
        self.gpu_open = self._any_gpu_open()

    def _hold(self, pos: int, run_id: int, mem: int | None, deadline: float | None) -> None:
        self.holders[pos].append((run_id, mem, deadline))
        if mem is None:
            self.exclusive[pos] = True
        else:
            self.free_mib[pos] -= mem

    def _usable(self, pos: int, mem: int | None) -> bool:
        if mem is None:
            return not self.holders[pos] and not self.busy[pos]
        return not self.exclusive[pos] and self.free_mib[pos] >= mem

    def _any_gpu_open(self) -> bool:
        """Whether any GPU could still take some run this pass (else GPU runs are skipped)."""
        return any(
            (pos not in self.reserved or self.shadow is not None)
            and (self._usable(pos, None) or self._usable(pos, 1))
            for pos in range(len(self.free_mib))
        )

    # -- the scan --------------------------------------------------------------------------

    def scan(self, ordered: Sequence[Pending]) -> list[Assignment]:
        """Walk the queue once. This loop is the hot path: locals, and the cache of failed shapes."""
        started: list[Assignment] = []
        explaining, reasons = self.explaining, self.reasons
        failed, mem_floor = self.failed, self.mem_floor
        now, cpu_slots = self.state.now, self.state.cpu_slots
        for p in ordered:
            shadow = self.shadow
            backfill = (
                shadow is not None and p.timeout_s is not None and now + p.timeout_s <= shadow
            )
            if p.gpus_max == 0 and not p.gpu_ids:  # a CPU run
                if self.cpu_used >= cpu_slots:
                    if explaining:
                        reasons[p.run_id] = (
                            f"waiting for a CPU slot ({self.cpu_used} of {cpu_slots} in use)"
                        )
                    elif not self.gpu_open:
                        break  # nothing more can start
                elif p.locks and (clash := self._lock_conflict(p, backfill)):
                    self._note(p, clash)
                else:
                    self.cpu_used += 1
                    self._start(p, (), started)
                continue
            if not self.gpu_open and self.reserved_for is not None and not explaining:
                if self.cpu_used >= cpu_slots:
                    break  # nothing more can start
                continue
            if p.locks and (clash := self._lock_conflict(p, backfill)):
                self._note(p, clash)
                continue
            key = (p.gpus_min, p.gpu_mem_mib, p.gpu_ids, backfill)
            known = failed.get(key)
            if known is not None:
                if explaining:
                    reasons[p.run_id] = known
            elif (
                explaining  # reasons name the amount: no shortcut
                or p.gpu_ids is not None
                or p.gpu_mem_mib is None
                or p.gpu_mem_mib < mem_floor.get((p.gpus_min, backfill), _BIG)
            ):
                self._place(p, key, backfill, started)
        return started

    def _place(
        self, p: Pending, key: tuple[object, ...], backfill: bool, started: list[Assignment]
    ) -> None:
        """Start a GPU run whose shape is not known to fail, or record why it waits."""
        avoid = frozenset() if backfill else self.reserved
        chosen = self._choose(p, avoid)
        if chosen is not None:
            self._start(p, chosen, started)
            return
        why = self._why_waiting(p, avoid) if self.explaining else ""
        if self.reserved_for is None and self._reserve(p):
            self._note(p, why + self._next_in_line())  # not cached: this reason is its own
        else:
            self.failed[key] = why
            if p.gpu_mem_mib is not None and p.gpu_ids is None:
                floor = (p.gpus_min, backfill)
                self.mem_floor[floor] = min(p.gpu_mem_mib, self.mem_floor.get(floor, _BIG))
            self._note(p, why)

    def _note(self, p: Pending, why: str) -> None:
        if self.explaining:
            self.reasons[p.run_id] = why

    def _start(self, p: Pending, chosen: Sequence[int], started: list[Assignment]) -> None:
        gpus = self.state.gpus
        deadline = None if p.timeout_s is None else self.state.now + p.timeout_s
        for pos in chosen:
            self._hold(pos, p.run_id, p.gpu_mem_mib, deadline)
        for lock in p.locks:
            self.taken_locks[lock] = p.run_id
        indices = tuple(sorted(gpus[pos].index for pos in chosen))
        started.append(Assignment(p.run_id, indices))
        if self.explaining:
            where = f"on {_gpus_word(indices)}" if indices else "on a CPU slot"
            self.reasons[p.run_id] = f"about to start {where}"
        if chosen:
            self.failed.clear()
            self.mem_floor.clear()
            self.gpu_open = self._any_gpu_open()

    def _lock_conflict(self, p: Pending, backfill: bool) -> str:
        reserved = self.reserved_for
        for lock in p.locks:
            if lock in self.state.held_locks:
                return f"waiting for swap target {lock} held by another run"
            if lock in self.taken_locks:
                return f"waiting for swap target {lock} held by run #{self.taken_locks[lock]}"
            if reserved is not None and not backfill and lock in reserved.locks:
                return f"held back: swap target {lock} is reserved for run #{reserved.run_id} (higher in the queue)"
        return ""

    def _choose(self, p: Pending, avoid: frozenset[int]) -> tuple[int, ...] | None:
        """The GPU positions ``p`` would take now, or None when it cannot start."""
        mem = p.gpu_mem_mib
        if p.gpu_ids is not None:
            picks = [self.position.get(i, -1) for i in p.gpu_ids]
            if all(pos >= 0 and pos not in avoid and self._usable(pos, mem) for pos in picks):
                return tuple(picks)
            return None
        need = max(1, p.gpus_min)
        usable = [pos for pos in self.by_index if pos not in avoid and self._usable(pos, mem)]
        if len(usable) < need:
            return None
        if mem is not None:  # best fit: least memory left first; stable, so ties keep index order
            usable.sort(key=self.free_mib.__getitem__)
        return tuple(usable[: max(need, p.gpus_max)])

    # -- the reservation -------------------------------------------------------------------

    def _reserve(self, p: Pending) -> bool:
        """Make ``p`` the reserved run, unless it can never fit; return whether it was."""
        mem = p.gpu_mem_mib
        gpus = self.state.gpus
        if p.gpu_ids is not None:
            candidates, need = [self.position.get(i, -1) for i in p.gpu_ids], len(p.gpu_ids)
        else:
            candidates, need = self.by_index, max(1, p.gpus_min)
        # a GPU missing (pinned but not runyard's) or too small is one the run can never use
        candidates = [
            c for c in candidates if c >= 0 and (mem is None or gpus[c].memory_mib >= mem)
        ]
        if len(candidates) < need:
            return False
        timed = sorted(
            ((self._release_time(pos, mem), pos) for pos in candidates),
            key=lambda tp: (_INF if tp[0] is None else tp[0], self.state.gpus[tp[1]].index),
        )[:need]
        times = [t for t, _ in timed]
        self.reserved_for = p
        self.reserved = frozenset(pos for _, pos in timed)
        self.shadow = None if None in times else max(t for t in times if t is not None)
        self.failed.clear()
        self.mem_floor.clear()
        self.gpu_open = self._any_gpu_open()
        return True

    def _release_time(self, pos: int, mem: int | None) -> float | None:
        """When GPU ``pos`` will be usable by a run needing ``mem``, from claim deadlines."""
        if self._usable(pos, mem):
            return self.state.now
        if mem is None and self.busy[pos]:
            return None  # a process outside runyard: no one knows when it ends
        holders = self.holders[pos]
        waits = [d for _, m, d in holders if mem is None or m is None]
        if mem is not None:  # the exclusive claims must end, and enough shared ones
            free = self.free_mib[pos]
            shares = sorted((_INF if d is None else d, m) for _, m, d in holders if m is not None)
            for end, share in shares:
                if free >= mem:
                    break
                waits.append(None if end == _INF else end)
                free += share
            if free < mem:
                return None  # outside use must shrink first
        known = [d for d in waits if d is not None]
        return max([self.state.now, *known]) if len(known) == len(waits) else None

    # -- explanations ----------------------------------------------------------------------

    def _next_in_line(self) -> str:
        if self.shadow is None:
            return "; next in line"
        wait = max(0.0, self.shadow - self.state.now)
        return f"; next in line, at the latest in {_minutes(wait)}"

    def _why_waiting(self, p: Pending, avoid: frozenset[int]) -> str:
        gpus, mem = self.state.gpus, p.gpu_mem_mib
        if avoid and self._choose(p, frozenset()) is not None:
            assert self.reserved_for is not None
            held = sorted(gpus[pos].index for pos in avoid)
            verb = "is" if len(held) == 1 else "are"
            return f"held back: {_gpus_word(held)} {verb} reserved for run #{self.reserved_for.run_id} (higher in the queue)"
        if p.gpu_ids is not None:
            return self._why_pinned(p.gpu_ids, mem, avoid)
        need = max(1, p.gpus_min)
        big_enough = [pos for pos in self.by_index if mem is None or gpus[pos].memory_mib >= mem]
        if len(gpus) < need:
            gpu_s = "GPU" if need == 1 else "GPUs"
            return f"cannot start: needs {need} {gpu_s}, runyard may use {len(gpus)} ({self._available()})"
        if len(big_enough) < need:
            return (
                f"cannot start: needs {mem} MiB on {need} GPU(s), only {len(big_enough)} that large"
            )
        fitting = [pos for pos in big_enough if pos not in avoid and self._usable(pos, mem)]
        blocked = [pos for pos in big_enough if pos not in fitting]
        if mem is None and need == 1:
            head = "waiting for a GPU: none free"
        elif mem is None:
            head = f"waiting for {need} GPUs: {len(fitting)} free"
        else:
            has = "has" if len(fitting) == 1 else "have"
            head = f"waiting for {need} GPUs with {mem} MiB free: {len(fitting)} {has} it"
            if need == 1:
                head = f"waiting for {mem} MiB on a GPU"
            shareable = [pos for pos in blocked if not self.exclusive[pos] and pos not in avoid]
            if shareable:
                best = max(shareable, key=self.free_mib.__getitem__)
                sep = ":" if need == 1 else ";"
                return f"{head}{sep} most free is {max(0, self.free_mib[best])} MiB on GPU {gpus[best].index}"
        return f"{head} ({self._blockers(blocked, mem, avoid)})"

    def _why_pinned(self, ids: tuple[int, ...], mem: int | None, avoid: frozenset[int]) -> str:
        missing = [i for i in ids if i not in self.position]
        if missing:
            return f"cannot start: pinned {_gpus_word(missing)} not among the GPUs runyard may use ({self._available()})"
        small = [
            i for i in ids if mem is not None and self.state.gpus[self.position[i]].memory_mib < mem
        ]
        if small:
            return f"cannot start: pinned {_gpus_word(small)} too small for the {mem} MiB the run needs"
        blocked = [
            self.position[i]
            for i in ids
            if self.position[i] in avoid or not self._usable(self.position[i], mem)
        ]
        if len(ids) == 1:
            details = self._blocker(blocked[0], mem, avoid)[0].removeprefix("is ")
        else:
            details = self._blockers(blocked, mem, avoid)
        return f"waiting for {_gpus_word(ids)} (pinned): {details}"

    def _available(self) -> str:
        return ",".join(str(self.state.gpus[pos].index) for pos in self.by_index) or "none"

    def _blockers(self, blocked: Sequence[int], mem: int | None, avoid: frozenset[int]) -> str:
        """What keeps these GPUs from a run, GPUs with the same cause named together."""
        groups: dict[str, list[tuple[int, str]]] = {}
        for pos in blocked:
            one, several = self._blocker(pos, mem, avoid)
            groups.setdefault(several, []).append((self.state.gpus[pos].index, one))
        return "; ".join(
            f"GPU {members[0][0]} {members[0][1]}"
            if len(members) == 1
            else f"{_gpus_word([i for i, _ in members])} {several}"
            for several, members in groups.items()
        )

    def _blocker(self, pos: int, mem: int | None, avoid: frozenset[int]) -> tuple[str, str]:
        """What keeps GPU ``pos`` from a run needing ``mem``: said of it alone, and of several."""
        g, holders = self.state.gpus[pos], self.holders[pos]
        exclusive = [rid for rid, m, _ in holders if m is None]
        if exclusive:
            return f"is held by run #{exclusive[0]}", "are held by other runs"
        if mem is None and holders:
            ids = ", ".join(f"#{rid}" for rid, _, _ in holders[:3])
            return (
                f"is shared by run{'s' if len(holders) > 1 else ''} {ids}",
                "are shared by other runs",
            )
        if mem is None and self.busy[pos]:
            pids = ", ".join(map(str, g.external_pids[:3]))
            what = f": pid {pids}" if pids else f" ({g.external_mib} MiB)"
            return (
                f"is used by a process outside runyard{what}",
                "are used by processes outside runyard",
            )
        if pos in avoid and self.reserved_for is not None:
            reserved = f"reserved for run #{self.reserved_for.run_id} (higher in the queue)"
            return f"is {reserved}", f"are {reserved}"
        return f"has {max(0, self.free_mib[pos])} MiB free, needs {mem} MiB", "are short of memory"
