"""ingest/figures.py: losses.png and accuracy.png drawn with matplotlib's Agg canvas."""

from __future__ import annotations

import math
import subprocess
import sys
import threading
from pathlib import Path

from runyard.ingest.figures import draw_figures

PNG = b"\x89PNG\r\n\x1a\n"


def curve(n: int, start: float, end: float) -> list[tuple[float, float]]:
    return [(float(i), start + (end - start) * i / max(n - 1, 1)) for i in range(n)]


def test_draws_losses_and_accuracy(tmp_path: Path) -> None:
    series = {
        "train_loss": curve(20, 2.0, 0.1),
        "val_loss": curve(20, 2.1, 0.3),
        "test_accuracy": curve(20, 10.0, 91.0),
        "lr": curve(20, 0.1, 0.0),
    }
    written = draw_figures(tmp_path / "figures", series, "run 1", "epoch")
    assert [p.name for p in written] == ["losses.png", "accuracy.png"]
    assert all(p.read_bytes().startswith(PNG) for p in written)
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == [
        "accuracy.png",
        "losses.png",
    ]


def test_nothing_is_written_without_data(tmp_path: Path) -> None:
    series = {"lr": curve(5, 0.1, 0.0), "val_loss": [(1.0, math.nan), (2.0, math.inf)], "acc": []}
    assert draw_figures(tmp_path / "figures", series, "run 2") == []
    assert not (tmp_path / "figures").exists()


def test_only_the_figure_with_data_is_drawn(tmp_path: Path) -> None:
    written = draw_figures(tmp_path, {"val_accuracy": curve(3, 0.2, 0.9)}, "run 3")
    assert [p.name for p in written] == ["accuracy.png"]
    assert [p.name for p in tmp_path.iterdir()] == ["accuracy.png"]


def test_long_series_with_nan_and_spikes_are_drawn(tmp_path: Path) -> None:
    points = [(float(i), 1.0 / (1 + i)) for i in range(200_000)]
    points[5_000] = (5_000.0, math.nan)
    points[7_000] = (7_000.0, 50.0)
    written = draw_figures(tmp_path, {"loss": points[::-1]}, "run 4")  # unsorted on purpose
    assert written[0].read_bytes().startswith(PNG)


def test_works_from_worker_threads(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def draw(i: int) -> None:
        try:
            draw_figures(tmp_path / str(i), {"loss": curve(100, 1.0, 0.1)}, f"run {i}")
        except BaseException as error:  # collected: an exception in a thread fails nothing
            errors.append(error)

    threads = [threading.Thread(target=draw, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all((tmp_path / str(i) / "losses.png").read_bytes().startswith(PNG) for i in range(4))


def test_importing_the_module_does_not_import_matplotlib() -> None:
    code = "import sys, runyard.ingest.figures; print('matplotlib' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
