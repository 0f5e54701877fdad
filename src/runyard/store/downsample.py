"""Query-time downsampling of a metric series, so that no spike is hidden.

Every raw point is stored; a chart that asks for N points gets N of them chosen here, at
query time (issue 3). The choice is MinMaxLTTB from ``tsdownsample``: each of ``4 * N``
equal-width x buckets first contributes its minimum and its maximum, then LTTB picks the
N points that keep the shape. A single bad batch (a loss spike, an accuracy dip) is a
bucket's extreme, so it survives; plain LTTB or "every k-th point" can drop it.

Two things are handled here rather than left to the library:

- **Non-finite values** (NaN, ±inf: a diverged loss) are never silently dropped. The
  finite points are downsampled; each run of consecutive non-finite values of one kind is
  added back as its first and last point, so a chart still shows where the run diverged
  and for how long. At most ``n_out // 4`` (at least 2) such points are added; past that,
  an evenly spaced sample of them, always including the first and the last.
- **Inputs the library panics on.** tsdownsample 0.1.5 aborts with a Rust panic (a
  ``BaseException``, not an ``Exception``) when x has repeated values, or its spacing is
  tiny (around 1e-13) or subnormal, or its span overflows. x is therefore rescaled onto
  ``[0, len - 1]`` (the scale of plain indices, which always works) and used only if it is
  still strictly increasing; otherwise the points are bucketed by position instead.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from tsdownsample import MinMaxLTTBDownsampler

Indices = npt.NDArray[np.int64]

NON_FINITE_SHARE = 4  # at most n_out // NON_FINITE_SHARE indices are spent on NaN/inf points


def downsample(x: npt.ArrayLike, y: npt.ArrayLike, n_out: int) -> Indices:
    """Indices (ascending, unique) of about ``n_out`` points of the series that keep its shape.

    ``x`` must be sorted ascending. The first and the last point are always kept. When
    ``n_out >= len(x)`` every index comes back; ``n_out`` of 1 or 2 gives the first and the
    last point. With non-finite values the result can exceed ``n_out`` by a few (at most
    ``max(n_out, 5)`` points in all). Raises ValueError for ``n_out < 1`` or mismatched shapes.
    """
    xs = np.ascontiguousarray(x, dtype=np.float64)
    ys = np.ascontiguousarray(y, dtype=np.float64)
    if xs.ndim != 1 or xs.shape != ys.shape:
        raise ValueError(f"x and y must be 1-D and of one length, not {xs.shape} and {ys.shape}")
    if n_out < 1:
        raise ValueError(f"n_out must be at least 1, not {n_out}")
    n = len(xs)
    if n <= n_out:
        return np.arange(n, dtype=np.int64)
    if n_out < 3:
        return np.array([0, n - 1], dtype=np.int64)
    finite = np.isfinite(ys)
    if finite.all():
        return _minmax_lttb(xs, ys, n_out)
    bad = np.flatnonzero(~finite)
    markers = _non_finite_edges(ys, bad, max(2, n_out // NON_FINITE_SHARE))
    good = np.flatnonzero(finite)
    if len(good) == 0:
        return markers
    kept = good[_minmax_lttb(xs[good], ys[good], max(3, n_out - len(markers)))]
    return np.union1d(kept, markers).astype(np.int64, copy=False)


def _minmax_lttb(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], n_out: int) -> Indices:
    """MinMaxLTTB on finite y, on rescaled x when that is safe, else on positions."""
    n = len(x)
    if n <= n_out:
        return np.arange(n, dtype=np.int64)
    sampler = MinMaxLTTBDownsampler()  # type: ignore[no-untyped-call]  # the library has no hints
    with np.errstate(all="ignore"):  # an overflowing span just fails the check below
        scaled = (x - x[0]) * ((n - 1) / (x[-1] - x[0]))
        usable = bool(np.all(scaled[1:] > scaled[:-1]))  # False for NaN too
    if usable:
        picked = sampler.downsample(scaled, y, n_out=n_out)
    else:
        picked = sampler.downsample(y, n_out=n_out)
    # a flat bucket's min and max are one point, which the library then returns twice
    return np.unique(np.asarray(picked, dtype=np.int64))


def _non_finite_edges(y: npt.NDArray[np.float64], bad: Indices, cap: int) -> Indices:
    """First and last index of each run of one kind of non-finite value, at most ``cap``."""
    values = y[bad]
    kind = np.where(np.isnan(values), 0.0, np.sign(values))  # NaN, +inf, -inf
    breaks = np.flatnonzero((np.diff(bad) != 1) | (np.diff(kind) != 0))
    starts = np.concatenate(([bad[0]], bad[breaks + 1]))
    ends = np.concatenate((bad[breaks], [bad[-1]]))
    edges = np.union1d(starts, ends).astype(np.int64, copy=False)
    if len(edges) > cap:
        edges = edges[np.unique(np.linspace(0, len(edges) - 1, cap).round().astype(np.int64))]
    return edges
