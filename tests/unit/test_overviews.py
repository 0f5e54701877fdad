"""store/overviews.py: the M4 reduction a chart of a long series is drawn from."""

from __future__ import annotations

import numpy as np
import pytest

from runyard.store.downsample import downsample
from runyard.store.overviews import CAP, FIRST, HIGH, LAST, LOW, ODD_FIRST, ODD_LAST, Overview


def spiky(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """A noisy walk with spikes up and down, scattered NaNs, a NaN stretch and an inf."""
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.integers(1, 4, n)).astype(np.float64)
    y = np.cumsum(rng.normal(0, 0.01, n)) + rng.normal(0, 0.2, n)
    spikes = sorted(int(i) for i in rng.choice(np.arange(1, n - 1), 6, replace=False))
    for k, i in enumerate(spikes):
        y[i] += 40.0 if k % 2 else -40.0
    y[rng.choice(n, n // 500)] = np.nan
    y[n // 3:n // 3 + n // 50] = np.nan
    y[n // 2] = np.inf
    spikes = [i for i in spikes if np.isfinite(y[i])]
    return x, y, spikes


def test_each_bucket_keeps_its_ends_extremes_and_non_finite_ends() -> None:
    x, y, _ = spiky(300_000)
    overview = Overview.of(x, y)
    assert CAP < len(overview.x) <= 2 * CAP and overview.count == len(x)
    width = overview.width
    for b in range(len(overview.x)):
        bx, by = x[b * width:(b + 1) * width], y[b * width:(b + 1) * width]
        finite = np.isfinite(by)
        assert (overview.x[b, FIRST], overview.x[b, LAST]) == (bx[0], bx[-1])
        if finite.any():
            assert overview.x[b, LOW] == bx[finite][np.argmin(by[finite])]
            assert overview.x[b, HIGH] == bx[finite][np.argmax(by[finite])]
        if (~finite).any():
            assert (overview.x[b, ODD_FIRST], overview.x[b, ODD_LAST]) == (bx[~finite][0], bx[~finite][-1])
        else:
            assert np.isnan(overview.x[b, ODD_FIRST])


@pytest.mark.parametrize("seed", range(4))
def test_extending_piece_by_piece_equals_building_at_once(seed: int) -> None:
    x, y, _ = spiky(200_000, seed)
    rng = np.random.default_rng(seed)
    grown = Overview()
    start = 0
    while start < len(x):
        end = start + int(rng.choice([1, 7, 4096, 30_000]))
        grown.extend(x[start:end], y[start:end])
        start = end
        if rng.random() < 0.2:  # stored and read back in between
            grown = Overview.decode(grown.count, grown.width, grown.encode())
    whole = Overview.of(x, y)
    assert (grown.count, grown.width) == (whole.count, whole.width)
    assert np.array_equal(grown.x, whole.x, equal_nan=True) and np.array_equal(grown.y, whole.y, equal_nan=True)


def test_points_keep_spikes_gaps_and_both_ends() -> None:
    x, y, spikes = spiky(500_000)
    px, py = Overview.of(x, y).points()
    assert len(px) <= 6 * 2 * CAP and np.all(np.diff(px) > 0)
    assert (px[0], px[-1]) == (x[0], x[-1])
    assert set(x[spikes]) <= set(px)
    assert np.isnan(py).any() and np.isinf(py).any()
    assert x[len(x) // 3] in px and x[len(x) // 3 + len(x) // 50 - 1] in px  # the NaN stretch's ends


def test_a_chart_from_the_overview_keeps_what_one_from_every_point_keeps() -> None:
    x, y, spikes = spiky(400_000, seed=3)
    px, py = Overview.of(x, y).points()
    chosen = downsample(px, py, 1_200)
    whole = downsample(x, y, 1_200)
    assert len(chosen) <= len(whole) and np.all(np.diff(px[chosen]) > 0)
    assert set(x[spikes]) <= set(px[chosen]) and set(x[spikes]) <= set(x[whole])
    assert (px[chosen][0], px[chosen][-1]) == (x[0], x[-1])
    assert np.isnan(py[chosen]).any()


def test_a_short_series_is_kept_whole() -> None:
    x, y = np.arange(100.0), np.sin(np.arange(100.0))
    px, py = Overview.of(x, y).points()
    assert np.array_equal(px, x) and np.array_equal(py, y)
