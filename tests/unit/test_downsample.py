"""store/downsample.py: query-time downsampling that hides no spike and loses no NaN."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from runyard.store.downsample import downsample


def walk(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return np.arange(n, dtype=np.float64), np.cumsum(rng.normal(0, 0.01, n))


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a_single_spike_in_a_million_points_survives(sign: float) -> None:
    x, y = walk(1_000_000)
    y[654_321] += sign * 50.0
    picked = downsample(x, y, 1_000)
    assert 654_321 in picked
    assert len(picked) <= 1_000
    assert picked[0] == 0 and picked[-1] == len(x) - 1


def test_indices_are_sorted_and_unique_on_uneven_x() -> None:
    rng = np.random.default_rng(1)
    x = np.cumsum(rng.exponential(size=50_000) ** 4)
    picked = downsample(x, rng.normal(size=50_000), 500)
    assert np.all(np.diff(picked) > 0) and picked[0] == 0 and picked[-1] == 49_999


@pytest.mark.parametrize(
    ("n", "n_out", "expected"),
    [
        (0, 10, []),
        (1, 1, [0]),
        (5, 5, [0, 1, 2, 3, 4]),
        (5, 100, [0, 1, 2, 3, 4]),
        (10, 1, [0, 9]),
        (10, 2, [0, 9]),
    ],
)
def test_small_inputs(n: int, n_out: int, expected: list[int]) -> None:
    x, y = walk(n)
    assert downsample(x, y, n_out).tolist() == expected


def test_three_points_are_first_best_last() -> None:
    y = np.array([0.0, 0.0, 9.0, 0.0, 0.0])
    assert downsample(np.arange(5.0), y, 3).tolist() == [0, 2, 4]


@pytest.mark.parametrize(("x", "y", "n_out"), [([1.0, 2.0], [1.0], 5), ([1.0], [1.0], 0)])
def test_bad_arguments_raise_value_error(x: list[float], y: list[float], n_out: int) -> None:
    with pytest.raises(ValueError):
        downsample(np.array(x), np.array(y), n_out)


def test_non_finite_runs_are_kept_by_their_edges() -> None:
    x, y = walk(100_000)
    y[20_000:30_000] = np.nan
    y[50_000] = np.inf
    y[50_001] = -np.inf
    picked = set(downsample(x, y, 1_000).tolist())
    assert {20_000, 29_999, 50_000, 50_001} <= picked
    assert not picked & set(range(20_001, 29_999))


def test_non_finite_first_and_last_points_are_kept() -> None:
    x, y = walk(10_000)
    y[0], y[-1] = np.nan, np.inf
    picked = downsample(x, y, 100)
    assert picked[0] == 0 and picked[-1] == 9_999 and len(picked) <= 100


def test_many_non_finite_points_are_capped() -> None:
    x, y = walk(100_000)
    y[::7] = np.nan  # 14,286 separate runs
    picked = downsample(x, y, 1_000)
    assert len(picked) <= 1_000
    assert np.isnan(y[picked]).sum() == 1_000 // 4
    assert picked[0] == 0 and picked[-1] == 99_999


def test_all_nan_gives_edges_only() -> None:
    assert downsample(np.arange(1_000.0), np.full(1_000, np.nan), 50).tolist() == [0, 999]


@pytest.mark.parametrize(
    "x",
    [
        np.zeros(500),  # one x for every point
        np.repeat(np.arange(5.0), 100),  # heavy duplicates
        np.arange(500.0) * 1e-14,  # spacing tsdownsample's x-binning panics on
        np.arange(500.0) * 5e-324,  # subnormal spacing
        np.r_[np.arange(499.0) * 1e-300, 1e300],  # a span that overflows bin arithmetic
    ],
)
def test_degenerate_x_does_not_crash(x: np.ndarray) -> None:
    y = np.random.default_rng(2).normal(size=500)
    y[123] = 100.0
    picked = downsample(x, y, 20)
    assert 123 in picked and picked[0] == 0 and picked[-1] == 499


x_values = st.floats(allow_nan=False)  # ±inf too: it must not crash either
any_y = st.floats(allow_nan=True, allow_infinity=True)


@settings(max_examples=500, deadline=None)
@given(
    xs=hnp.arrays(np.float64, st.integers(0, 400), elements=x_values),
    ys=st.data(),
    n_out=st.integers(1, 120),
)
def test_never_raises_and_keeps_the_ends(xs: np.ndarray, ys: st.DataObject, n_out: int) -> None:
    x = np.sort(xs)
    y = ys.draw(hnp.arrays(np.float64, len(x), elements=any_y))
    picked = downsample(x, y, n_out)
    assert np.all(np.diff(picked) > 0)
    assert len(picked) <= max(n_out, 5) if len(x) > n_out else len(picked) == len(x)
    if len(x):
        assert picked[0] == 0 and picked[-1] == len(x) - 1
