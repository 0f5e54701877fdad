"""The pure planner: ordering, placement, locks, CPU slots, EASY backfill, and properties."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runyard.scheduler.planner import (
    Claim,
    ClusterState,
    GpuState,
    Pending,
    explain,
    order_key,
    plan,
)


def gpus(n: int, mem: int = 24_000) -> tuple[GpuState, ...]:
    return tuple(GpuState(index=i, memory_mib=mem) for i in range(n))


def cluster(n: int = 2, *claims: Claim, **kw: object) -> ClusterState:
    return ClusterState(gpus=gpus(n), claims=claims, **kw)  # type: ignore[arg-type]


def run(run_id: int, key: float | None = None, **kw: object) -> Pending:
    return Pending(run_id=run_id, order_key=float(run_id) if key is None else key, **kw)  # type: ignore[arg-type]


def started(queue: list[Pending], state: ClusterState) -> dict[int, tuple[int, ...]]:
    return {a.run_id: a.gpus for a in plan(queue, state)}


# -- order -------------------------------------------------------------------------------


def test_order_key_higher_priority_first_and_ageing_trades_time_for_priority() -> None:
    assert order_key(1, 1000.0, 600.0) < order_key(0, 1000.0, 600.0)
    # one priority level is worth ageing_s seconds of waiting: 601 s older beats priority +1
    assert order_key(0, 1000.0, 600.0) < order_key(1, 1601.0, 600.0)


@pytest.mark.parametrize(
    ("queue", "winner"),
    [
        ([run(1, key=5.0), run(2, key=3.0)], 2),  # smaller key first
        ([run(9, key=3.0), run(4, key=3.0)], 4),  # tie: lower run id first
        ([run(1, key=order_key(0, 10, 600)), run(2, key=order_key(2, 500, 600))], 2),
    ],
)
def test_queue_order_decides_who_gets_the_only_gpu(queue: list[Pending], winner: int) -> None:
    assert list(started(queue, cluster(1))) == [winner]


def test_unsorted_queue_is_planned_like_the_sorted_one() -> None:
    queue = [run(i, key=float(i % 7), gpu_mem_mib=5000 * (i % 3 + 1)) for i in range(1, 40)]
    shuffled = queue[:]
    random.Random(3).shuffle(shuffled)
    assert plan(shuffled, cluster(3)) == plan(
        sorted(queue, key=lambda p: (p.order_key, p.run_id)), cluster(3)
    )


# -- placement ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ((), (0,)),
        ((Claim(7, 0),), (1,)),  # exclusive claim
        ((Claim(7, 0, mem_mib=100),), (1,)),  # any shared claim also keeps exclusive runs off
    ],
)
def test_exclusive_run_takes_lowest_free_gpu(
    claims: tuple[Claim, ...], expected: tuple[int, ...]
) -> None:
    assert started([run(1)], cluster(2, *claims)) == {1: expected}


def test_shared_runs_pack_best_fit_and_never_overcommit() -> None:
    state = cluster(3, Claim(7, 0, mem_mib=20_000), Claim(8, 1, mem_mib=14_000), Claim(9, 2))
    queue = [run(1, gpu_mem_mib=4_000), run(2, gpu_mem_mib=8_000), run(3, gpu_mem_mib=4_000)]
    # GPU 0 has 4000 left (tightest fit for #1), GPU 1 has 10000, GPU 2 is exclusive
    assert started(queue, state) == {1: (0,), 2: (1,)}


@pytest.mark.parametrize(("mem", "expected"), [(None, None), (23_000, (0,)), (24_000, None)])
def test_exclusive_and_shared_runs_never_mix_on_a_gpu(
    mem: int | None, expected: tuple[int, ...] | None
) -> None:
    state = cluster(2, Claim(7, 0, mem_mib=1_000), Claim(8, 1))  # GPU 0 shared, GPU 1 exclusive
    assert started([run(1, gpu_mem_mib=mem)], state).get(1) == expected


@pytest.mark.parametrize(("mem", "expected"), [(None, (1,)), (4_000, (0,)), (20_000, (1,))])
def test_externally_busy_gpu_is_skipped_by_exclusive_runs_but_shared_if_memory_fits(
    mem: int | None, expected: tuple[int, ...]
) -> None:
    busy = GpuState(0, 24_000, external_mib=18_000, external_busy=True, external_pids=(1234,))
    state = ClusterState(gpus=(busy, GpuState(1, 24_000)))
    assert started([run(1, gpu_mem_mib=mem)], state) == {1: expected}


def test_gpu_is_taken_once_the_outside_process_leaves() -> None:
    busy = ClusterState(gpus=(GpuState(0, 24_000, 9_000, True),))
    assert started([run(1)], busy) == {}
    assert started([run(1)], ClusterState(gpus=(GpuState(0, 24_000),))) == {1: (0,)}


@pytest.mark.parametrize(
    ("gpus_min", "gpus_max", "free", "expected"),
    [(1, 4, 2, (2, 3)), (2, 2, 1, None), (2, 3, 4, (0, 1, 2)), (0, 2, 1, (3,))],
)
def test_min_max_gpu_counts(
    gpus_min: int, gpus_max: int, free: int, expected: tuple[int, ...] | None
) -> None:
    state = cluster(4, *(Claim(90 + i, i) for i in range(4 - free)))
    queue = [run(1, gpus_min=gpus_min, gpus_max=gpus_max)]
    assert started(queue, state).get(1) == expected


@pytest.mark.parametrize(("claimed", "expected"), [((), (1, 3)), ((3,), None), ((0, 2), (1, 3))])
def test_pinned_run_needs_all_its_gpus(
    claimed: tuple[int, ...], expected: tuple[int, ...] | None
) -> None:
    state = cluster(4, *(Claim(90 + i, i) for i in claimed))
    assert started([run(1, gpu_ids=(1, 3), gpus_min=2, gpus_max=2)], state).get(1) == expected


def test_pinned_gpu_outside_the_inventory_never_starts_nor_blocks() -> None:
    queue = [run(1, gpu_ids=(5,)), run(2)]
    assert started(queue, cluster(2)) == {2: (0,)}
    assert explain(queue, cluster(2))[1].startswith("cannot start: pinned GPU 5")


# -- locks and CPU slots -----------------------------------------------------------------


def test_locks_held_or_taken_earlier_in_the_pass_make_runs_wait() -> None:
    state = cluster(4, held_locks=frozenset({"/a.py"}))
    queue = [
        run(1, locks=("/a.py",)),
        run(2, locks=("/b.py",)),
        run(3, locks=("/b.py", "/c.py")),
        run(4),
    ]
    assert started(queue, state) == {2: (0,), 4: (1,)}


@pytest.mark.parametrize(("slots", "running", "n_started"), [(1, 0, 1), (3, 1, 2), (1, 1, 0)])
def test_cpu_runs_use_cpu_slots_only(slots: int, running: int, n_started: int) -> None:
    queue = [run(i, gpus_min=0, gpus_max=0) for i in range(1, 5)] + [run(9)]
    result = started(queue, cluster(1, cpu_slots=slots, cpu_running=running))
    assert sorted(result) == [*range(1, n_started + 1), 9]
    assert all(result[i] == () for i in range(1, n_started + 1))


# -- EASY backfill -----------------------------------------------------------------------

# The head run needs GPUs 0 and 1; GPU 0 is held by run #50 until t=100. GPU 1 is free now.
BIG = run(1, gpus_min=2, gpus_max=2)


@pytest.mark.parametrize(
    ("deadline", "timeout", "starts"),
    [
        (100.0, None, False),  # no timeout: could outlive the reservation
        (100.0, 50.0, True),  # ends by t=60 < shadow 100: backfilled
        (100.0, 90.0, True),  # ends exactly at the shadow time (10 + 90)
        (100.0, 200.0, False),  # would delay the big run
        (None, 5.0, False),  # unknown deadline: no shadow time, no exception
    ],
)
def test_backfill_only_when_it_ends_before_the_reserved_run_can_start(
    deadline: float | None, timeout: float | None, starts: bool
) -> None:
    state = cluster(2, Claim(50, 0, deadline=deadline), now=10.0)
    assert (2 in started([BIG, run(2, timeout_s=timeout)], state)) is starts


def test_backfill_on_gpus_outside_the_reservation_is_always_allowed() -> None:
    # the big run reserves GPU 2 (free now) and GPU 0 (free at t=100), not GPU 1 (t=500)
    state = cluster(3, Claim(50, 0, deadline=100.0), Claim(51, 1, mem_mib=1000, deadline=500.0))
    assert started([BIG, run(2, gpu_mem_mib=100), run(3)], state) == {2: (1,)}


@pytest.mark.parametrize(("timeout", "starts"), [(40.0, True), (60.0, False)])
def test_shadow_time_of_a_shared_run_is_when_enough_memory_frees(
    timeout: float, starts: bool
) -> None:
    # 4000 MiB free now; the 14000 MiB run can start once #7 ends at t=50, not waiting for #8
    state = cluster(
        1,
        Claim(7, 0, mem_mib=10_000, deadline=50.0),
        Claim(8, 0, mem_mib=10_000, deadline=100.0),
        now=10.0,
    )
    queue = [run(1, gpu_mem_mib=14_000), run(2, gpu_mem_mib=1_000, timeout_s=timeout)]
    assert (2 in started(queue, state)) is starts


def test_no_starvation_small_runs_cannot_keep_taking_the_freed_gpu() -> None:
    queue = [BIG] + [run(i) for i in range(2, 10)]
    state = cluster(2, Claim(50, 0, deadline=100.0))
    assert started(queue, state) == {}  # greedy would start #2 on GPU 1 and starve #1
    assert started(queue, cluster(2, now=100.0)) == {1: (0, 1)}


def test_runs_that_can_never_fit_reserve_nothing() -> None:
    queue = [run(1, gpus_min=4, gpus_max=4), run(2, gpu_mem_mib=99_000), run(3)]
    assert started(queue, cluster(2, Claim(50, 0))) == {3: (1,)}


def test_reserved_run_keeps_its_locks_from_later_runs() -> None:
    queue = [
        run(1, gpus_min=2, gpus_max=2, locks=("/m.py",)),
        run(2, gpus_min=0, gpus_max=0, locks=("/m.py",)),
    ]
    assert started(queue, cluster(2, Claim(50, 0))) == {}


# -- explain -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("queue", "state", "run_id", "reason"),
    [
        (
            [run(1, gpus_min=2, gpus_max=2)],
            ClusterState(gpus=(GpuState(0, 24_000, 900, True, (1234,)), GpuState(1, 24_000))),
            1,
            "waiting for 2 GPUs: 1 free (GPU 0 is used by a process outside runyard: pid 1234); next in line",
        ),
        (
            [run(3, gpu_ids=(1,))],
            cluster(2, Claim(12, 1)),
            3,
            "waiting for GPU 1 (pinned): held by run #12; next in line",
        ),
        (
            [run(1), run(2, gpu_mem_mib=10_240)],
            cluster(3, Claim(8, 1, mem_mib=16_000), Claim(9, 2, mem_mib=20_000)),
            2,
            "waiting for 10240 MiB on a GPU: most free is 8000 MiB on GPU 1; next in line",
        ),
        (
            [BIG, run(2)],
            cluster(2, Claim(7, 0, deadline=100.0)),
            2,
            "held back: GPUs 0,1 are reserved for run #1 (higher in the queue)",
        ),
        (
            [run(1, gpus_min=0, gpus_max=0)],
            cluster(1, cpu_running=1),
            1,
            "waiting for a CPU slot (1 of 1 in use)",
        ),
        (
            [run(1, locks=("/x/y",))],
            cluster(1, held_locks=frozenset({"/x/y"})),
            1,
            "waiting for swap target /x/y held by another run",
        ),
        (
            [run(1, gpus_min=3, gpus_max=3)],
            cluster(2),
            1,
            "cannot start: needs 3 GPUs, runyard may use 2 (0,1)",
        ),
        (
            [run(1)],
            ClusterState(
                gpus=(*gpus(2), GpuState(2, 24_000, 900, True, (99,))),
                claims=(Claim(7, 0), Claim(8, 1)),
            ),
            1,
            "waiting for a GPU: none free (GPUs 0,1 are held by other runs; GPU 2 is used by a process outside runyard: pid 99); next in line",
        ),
        (
            [run(1, gpu_ids=(0, 1))],
            cluster(2, Claim(7, 0)),
            1,
            "waiting for GPUs 0,1 (pinned): GPU 0 is held by run #7; next in line",
        ),
        (
            [run(1, gpus_min=2, gpus_max=2, gpu_mem_mib=10_000)],
            cluster(3, Claim(7, 0), Claim(8, 1, mem_mib=20_000)),
            1,
            "waiting for 2 GPUs with 10000 MiB free: 1 has it; most free is 4000 MiB on GPU 1; next in line",
        ),
        ([run(1)], cluster(1), 1, "about to start on GPU 0"),
    ],
)
def test_explain_says_why_each_run_waits(
    queue: list[Pending], state: ClusterState, run_id: int, reason: str
) -> None:
    assert explain(queue, state)[run_id] == reason


def test_explain_gives_the_reserved_run_its_latest_start() -> None:
    reasons = explain([BIG], cluster(2, Claim(7, 0, deadline=1_210.0), now=10.0))
    assert (
        reasons[1]
        == "waiting for 2 GPUs: 1 free (GPU 0 is held by run #7); next in line, at the latest in 20 min"
    )


# -- properties --------------------------------------------------------------------------

MEMS = st.sampled_from([None, 2_000, 6_000, 12_000, 30_000])


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Pending], ClusterState]:
    n_gpus = draw(st.integers(0, 4))
    gpu_list = tuple(
        GpuState(
            i,
            draw(st.sampled_from([16_000, 24_000])),
            draw(st.sampled_from([0, 0, 3_000])),
            draw(st.booleans()),
        )
        for i in range(n_gpus)
    )
    claims = [
        Claim(1000 + j, g, draw(MEMS), draw(st.sampled_from([None, 50.0, 200.0])))
        for j, g in enumerate(
            draw(
                st.lists(st.integers(0, max(0, n_gpus - 1)), max_size=5) if n_gpus else st.just([])
            )
        )
    ]
    queue = []
    for run_id in draw(st.lists(st.integers(1, 200), unique=True, max_size=12)):
        lo = draw(st.integers(0, 3))
        hi = draw(st.integers(lo, 4)) if lo else draw(st.sampled_from([0, 0, 2]))
        pinned = draw(
            st.none() | st.lists(st.integers(0, 4), min_size=1, max_size=2, unique=True).map(tuple)
        )
        if pinned:
            lo = hi = len(pinned)
        queue.append(
            Pending(
                run_id=run_id,
                order_key=float(draw(st.integers(0, 5))),
                gpus_min=lo,
                gpus_max=hi,
                gpu_mem_mib=draw(MEMS),
                gpu_ids=pinned,
                timeout_s=draw(st.sampled_from([None, 20.0, 500.0])),
                locks=tuple(draw(st.lists(st.sampled_from(["/a", "/b"]), max_size=1))),
            )
        )
    state = ClusterState(
        gpus=gpu_list,
        claims=tuple(claims),
        held_locks=frozenset(draw(st.lists(st.sampled_from(["/a", "/b"]), max_size=1))),
        cpu_slots=draw(st.integers(1, 2)),
        cpu_running=draw(st.integers(0, 2)),
        now=10.0,
    )
    return queue, state


@given(scenarios())
@settings(max_examples=300, deadline=None)
def test_plan_never_double_books_or_overcommits(
    scenario: tuple[list[Pending], ClusterState],
) -> None:
    queue, state = scenario
    result = plan(queue, state)
    runs = {p.run_id: p for p in queue}
    assert len({a.run_id for a in result}) == len(result)
    by_index = {g.index: g for g in state.gpus}
    for g in state.gpus:
        mine = [runs[a.run_id] for a in result if g.index in a.gpus]
        if not mine:
            continue
        claims = [c for c in state.claims if c.gpu_index == g.index]
        exclusive = [p for p in mine if p.gpu_mem_mib is None]
        if exclusive:  # alone on the GPU, and not beside an outside process
            assert len(mine) == 1 and not claims and not g.external_busy
        else:
            assert all(c.mem_mib is not None for c in claims)
            used = (
                g.external_mib
                + sum(c.mem_mib or 0 for c in claims)
                + sum(p.gpu_mem_mib or 0 for p in mine)
            )
            assert used <= by_index[g.index].memory_mib
    cpu = [a for a in result if not a.gpus]
    assert len(cpu) <= max(0, state.cpu_slots - state.cpu_running)
    locks = [lock for a in result for lock in runs[a.run_id].locks]
    assert len(locks) == len(set(locks)) and not set(locks) & state.held_locks
    for a in result:
        p = runs[a.run_id]
        assert list(a.gpus) == sorted(set(a.gpus))
        if p.gpu_ids is not None:
            assert a.gpus == tuple(sorted(p.gpu_ids))
        elif p.gpus_max == 0:
            assert a.gpus == ()
        else:
            assert max(1, p.gpus_min) <= len(a.gpus) <= max(1, p.gpus_max)


@given(scenarios(), st.randoms(use_true_random=False))
@settings(max_examples=200, deadline=None)
def test_plan_is_deterministic_whatever_the_input_order(
    scenario: tuple[list[Pending], ClusterState], rng: random.Random
) -> None:
    queue, state = scenario
    shuffled = queue[:]
    rng.shuffle(shuffled)
    assert plan(queue, state) == plan(shuffled, state) == plan(queue, state)
    reasons = explain(shuffled, state)
    assert set(reasons) == {p.run_id for p in queue}
    assert {rid for rid, why in reasons.items() if why.startswith("about to start")} == {
        a.run_id for a in plan(queue, state)
    }


@given(scenarios())
@settings(max_examples=300, deadline=None)
def test_the_first_run_in_line_starts_whenever_it_fits(
    scenario: tuple[list[Pending], ClusterState],
) -> None:
    queue, state = scenario
    if not queue:
        return
    head = min(queue, key=lambda p: (p.order_key, p.run_id))
    alone = plan([head], state)
    assert alone == [] or alone[0] in plan(queue, state)
