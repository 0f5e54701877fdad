"""Print PROGRESS lines from a training script (PROTOCOL.md §11). Standard library only.

    from runyard import report

    for epoch in range(1, epochs + 1):
        ...
        report(epoch, epochs, train_loss=loss, test_accuracy=acc)   # one PROGRESS line
    report.completed(epochs, epochs, test_accuracy=acc)            # the final report

The module itself is callable (``report(...)`` is :func:`progress`), because the protocol
promises ``from runyard import report`` and that names the module. Scripts must not pay
for runyard's server to print a line, so this file imports nothing outside the standard
library, and ``runyard/__init__.py`` stays light for the same reason.

The helper never raises over a value: a report printed with a warning beats a training
run killed at epoch 90. Problems (an accuracy that looks like a fraction, one outside
0..100, an epoch outside 1..total) go to stderr, once per kind per :class:`Reporter`.
Numbers are converted from numpy/torch scalars through their ``item()``; NaN and infinity
are written as ``json.dumps`` writes them, which runyard accepts and flags.
"""

from __future__ import annotations

import json
import math
import sys
import types
from collections.abc import Mapping
from typing import Any, TextIO

STATUSES = ("training", "completed")


class Reporter:
    """Prints PROGRESS lines to ``stream`` (stdout by default) and remembers what it warned about."""

    def __init__(self, stream: TextIO | None = None, warnings: TextIO | None = None) -> None:
        self._stream = stream
        self._warnings = warnings
        self._warned: set[str] = set()

    def progress(
        self,
        epoch: int,
        total_epochs: int,
        *,
        status: str = "training",
        step: int | None = None,
        **fields: Any,
    ) -> str:
        """Print one PROGRESS line and flush it; return the line (without the newline).

        ``fields`` are metrics (numbers; ``train_accuracy`` & co. in percent), info values
        (strings, booleans) or nested mappings, as PROTOCOL.md §2 describes.
        """
        if status not in STATUSES:
            self._warn("status", f"status {status!r} is neither 'training' nor 'completed'")
        epoch, total_epochs = _plain(epoch), _plain(total_epochs)
        if not (_is_int(epoch) and _is_int(total_epochs) and 1 <= epoch <= total_epochs):
            self._warn(
                "epoch",
                f"epoch {epoch!r} is not an integer in 1..{total_epochs!r} (epochs count from 1)",
            )
        payload: dict[str, Any] = {"epoch": epoch, "total_epochs": total_epochs}
        if step is not None:
            payload["step"] = step
        payload.update({name: _plain(value) for name, value in fields.items()})
        payload["status"] = status
        self._check_accuracies(payload)
        line = "PROGRESS: " + json.dumps(payload, default=str)
        stream = self._stream if self._stream is not None else sys.stdout
        print(line, file=stream, flush=True)
        return line

    def completed(
        self, epoch: int, total_epochs: int, *, step: int | None = None, **fields: Any
    ) -> str:
        """The final report: its accuracy and losses become the run's final results."""
        return self.progress(epoch, total_epochs, status="completed", step=step, **fields)

    def _check_accuracies(self, payload: Mapping[str, Any]) -> None:
        values = {
            name: value
            for name, value in payload.items()
            if (name == "accuracy" or name.endswith("_accuracy"))
            and isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
        }
        if any(not 0 <= v <= 100 for v in values.values()):
            self._warn("range", f"accuracies are percent (0..100): {values}")
        elif (
            values
            and all(0 <= v <= 1 for v in values.values())
            and any(v > 0 for v in values.values())
        ):
            self._warn(
                "fraction",
                f"accuracies look like fractions {values}: report percent (95.5, not 0.955)",
            )

    def _warn(self, kind: str, message: str) -> None:
        if kind in self._warned:
            return
        self._warned.add(kind)
        stream = self._warnings if self._warnings is not None else sys.stderr
        print(f"runyard.report: {message}", file=stream, flush=True)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _plain(value: Any) -> Any:
    """numpy and torch scalars (anything with ``item()``) become Python numbers."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    item = getattr(value, "item", None)
    return item() if callable(item) else value


_default = Reporter()
"""The process's reporter behind the module functions: a script is one process, and
warning once per kind must hold across its calls. Nothing else keeps state here."""


def progress(
    epoch: int,
    total_epochs: int,
    *,
    status: str = "training",
    step: int | None = None,
    **fields: Any,
) -> str:
    """Print one PROGRESS line (see :meth:`Reporter.progress`)."""
    return _default.progress(epoch, total_epochs, status=status, step=step, **fields)


def completed(epoch: int, total_epochs: int, *, step: int | None = None, **fields: Any) -> str:
    """Print the final PROGRESS line, with ``"status": "completed"``."""
    return _default.completed(epoch, total_epochs, step=step, **fields)


class _CallableModule(types.ModuleType):
    def __call__(self, epoch: int, total_epochs: int, **kwargs: Any) -> str:
        return progress(epoch, total_epochs, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
