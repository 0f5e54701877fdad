"""The loss and accuracy curves a researcher would otherwise plot at the end of training.

``figures/losses.png`` holds every series whose name contains ``loss``;
``figures/accuracy.png`` every series whose name contains ``acc``, on a percent axis
(PROTOCOL.md reports accuracy in percent; a run whose accuracy values all lie in [0, 1]
reported fractions, and is drawn times 100 with a note in the title, the stored values
staying as given).

matplotlib is imported inside :func:`draw_figures`, not at module level: the daemon
imports this module at start-up and should not pay a second or more for matplotlib until
a run actually ends. Only the object-oriented API is used (``Figure`` and
``FigureCanvasAgg``, never ``pyplot``, whose global figure registry is not thread-safe),
so figures can be drawn from a worker thread.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from runyard.ingest.outputs import write_file_atomic

MAX_POINTS = 5_000  # five a pixel on a 1,000-pixel-wide chart: more would draw nothing new
SIZE_IN = (10.0, 5.0)
DPI = 100


def draw_figures(
    figures_dir: Path,
    series: Mapping[str, Sequence[tuple[float, float]]],
    title: str,
    x_label: str = "step",
) -> list[Path]:
    """Draw ``losses.png`` and ``accuracy.png`` into ``figures_dir``; return the files written.

    Non-finite points are left out; a figure with no finite point at all is not drawn
    (nor is ``figures_dir`` made). Each file is written atomically.
    """
    losses = _finite_series({k: v for k, v in series.items() if "loss" in k.lower()})
    accuracies = _finite_series({k: v for k, v in series.items() if "acc" in k.lower()})
    written: list[Path] = []
    if losses:
        path = figures_dir / "losses.png"
        _draw(path, losses, title, x_label, "loss", percent=False)
        written.append(path)
    if accuracies:
        path = figures_dir / "accuracy.png"
        _draw(path, accuracies, title, x_label, "accuracy", percent=True)
        written.append(path)
    return written


Points = tuple[list[float], list[float]]


def _finite_series(series: Mapping[str, Sequence[tuple[float, float]]]) -> dict[str, Points]:
    """Each series sorted by x, cut to about MAX_POINTS, without non-finite points."""
    out: dict[str, Points] = {}
    for key in sorted(series):
        points = series[key]
        if len(points) > MAX_POINTS:
            points = _downsampled(points)
        kept = sorted((x, y) for x, y in points if math.isfinite(x) and math.isfinite(y))
        if kept:
            out[key] = ([x for x, _ in kept], [y for _, y in kept])
    return out


def _downsampled(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """About MAX_POINTS of a long series, its spikes kept (store/downsample.py)."""
    import numpy as np

    from runyard.store.downsample import downsample

    xy = np.array(points, dtype=np.float64).reshape(-1, 2)
    xy = xy[np.isfinite(xy[:, 0])]  # a point without a place on the x axis cannot be drawn
    xy = xy[np.argsort(xy[:, 0], kind="stable")]
    picked = downsample(xy[:, 0], xy[:, 1], MAX_POINTS)
    return [(float(x), float(y)) for x, y in xy[picked]]


def _draw(
    path: Path, series: dict[str, Points], title: str, x_label: str, what: str, percent: bool
) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    scale, note = 1.0, ""
    if percent:
        values = [y for _, ys in series.values() for y in ys]
        if all(0.0 <= y <= 1.0 for y in values) and any(y > 0 for y in values):
            scale, note = 100.0, " (reported as fractions, shown in percent)"
    figure = Figure(figsize=SIZE_IN, dpi=DPI)
    FigureCanvasAgg(figure)  # attaches itself: the figure renders with Agg, no pyplot
    axes = figure.add_subplot()
    for key, (xs, ys) in series.items():
        style: dict[str, Any] = {"marker": "o", "markersize": 3} if len(xs) <= 50 else {}
        axes.plot(xs, [y * scale for y in ys], label=key, linewidth=1.2, **style)
    axes.set_title(f"{title}: {what}{note}")
    axes.set_xlabel(x_label)
    axes.set_ylabel(f"{what} (%)" if percent else what)
    if percent:
        axes.yaxis.set_major_formatter(PercentFormatter(xmax=100))
    axes.grid(True, alpha=0.3)
    axes.legend(loc="best", fontsize="small")

    write_file_atomic(path, lambda f: figure.savefig(f, format="png"), binary=True)
