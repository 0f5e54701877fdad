"""Frameworks' own console output, read with no code change (PROTOCOL.md §7).

Each reader takes one ``\\r``-segment and returns a :class:`FrameworkLine` (runyard's
metric names, percent accuracies, and the name each came from), or None. The parser
reads these only until a run's first PROGRESS line, as it does legacy lines: a script
that speaks the protocol is not second-guessed. docs/protocol-frameworks.md has the
same mapping with examples.

**Keras** ``fit``/``evaluate`` (Keras 2 and 3, any verbosity): the ``Epoch 3/10`` header
(shared with the legacy reader) sets the epoch; a line with ``- loss: <number>`` is
read as ``- name: value`` pairs. x is the current epoch.

    loss → train_loss             val_loss → val_loss
    accuracy, acc → train_accuracy (x100)    val_accuracy, val_acc → val_accuracy (x100)
    sparse_categorical_accuracy, categorical_accuracy, binary_accuracy (and val_…) stand
    for train_accuracy / val_accuracy (x100) when plain accuracy is absent
    any other …accuracy / …acc → same name, x100;   learning_rate, lr → lr
    anything else → its own name (mae, val_mae, …)

Progress-bar lines within an epoch give running averages at the same x, which the final
line of the epoch overwrites (last write wins). ``model.evaluate`` prints the same kind of
line with no header; its batch counter starts again from 1, so a counter that goes back
without a new ``Epoch`` header marks evaluation, whose ``loss`` and ``accuracy`` become
``test_loss`` and ``test_accuracy`` at the last epoch (``evaluate`` on a test set is the
Keras tutorials' closing step). An ``evaluate`` before any ``fit`` reads as training.

**Hugging Face Trainer** log dicts (``{'loss': 0.69, 'learning_rate': 5e-05, 'epoch': 1.0}``;
transformers 5 quotes the values: ``{'loss': '0.694', …, 'epoch': '0.5'}``): a segment
starting with ``{`` that holds an ``'epoch'`` key. The printed dict has no global step, so
x is the fractional epoch (0.25, 0.5 …); the run's epoch is that rounded up.
``Num Epochs = 3`` (Trainer's start banner, at info verbosity) sets the total.

    loss → train_loss    eval_loss → val_loss    eval_<name> → val_<name>
    learning_rate → lr   …accuracy → x100 (eval_accuracy → val_accuracy)
    train_loss of the closing summary (the one with train_runtime) → train_loss_mean,
      so the run's mean loss does not overwrite the last logged loss at the same epoch
    anything else (grad_norm, eval_runtime, train_samples_per_second, …) → its own name

**PyTorch examples** (``examples/mnist``): ``Train Epoch: 1 [640/60000 (1%)]\\tLoss: 0.43``
sets the epoch and gives ``train_loss``; ``Test set: Average loss: 0.0470, Accuracy:
9845/10000 (98%)`` gives ``test_loss`` and ``test_accuracy`` computed from the counts
(98.45, not the rounded 98). x is the current epoch.
"""

from __future__ import annotations

import ast
import math
import re
from typing import NamedTuple

from runyard.protocol.legacy import NUMBER


class FrameworkLine(NamedTuple):
    metrics: dict[str, float]
    renamed: dict[str, str]
    info: dict[str, str | bool]
    epoch: int | None = None
    x: float | None = None
    counter: int | None = None
    """Keras: the batch counter ``12`` of ``12/60``, which tells ``evaluate`` from ``fit``."""


def percent(fraction: float) -> float:
    """0.6295 → 62.95, not 62.949999999999996: the printed digits are all there is."""
    return round(fraction * 100.0, 10)


KERAS_TRIGGER = "- loss: "
KERAS_PAIR = re.compile(rf"(?:^|\s)-\s+([A-Za-z_][A-Za-z0-9_]*):\s+({NUMBER})(?=\s|$)")
KERAS_NAMES = {
    "loss": "train_loss",
    "val_loss": "val_loss",
    "accuracy": "train_accuracy",
    "acc": "train_accuracy",
    "val_accuracy": "val_accuracy",
    "val_acc": "val_accuracy",
    "learning_rate": "lr",
    "lr": "lr",
}
KERAS_STAND_INS = ("sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy")
KERAS_COUNTER = re.compile(r"\s*(\d{1,15})/\d+\s")
KERAS_EVALUATION = {"train_loss": "test_loss", "train_accuracy": "test_accuracy"}


def read_keras(segment: str) -> FrameworkLine | None:
    if KERAS_TRIGGER not in segment:
        return None
    printed = dict(KERAS_PAIR.findall(segment))
    if "loss" not in printed and "val_loss" not in printed:
        return None
    metrics: dict[str, float] = {}
    renamed: dict[str, str] = {}
    for key, raw in printed.items():
        name = KERAS_NAMES.get(key) or _keras_stand_in(key, printed) or key
        value = float(raw)
        if key.endswith(("accuracy", "_acc")) or key == "acc":
            value = percent(value)
        _put(metrics, renamed, name, key, value)
    counter = KERAS_COUNTER.match(segment)
    return FrameworkLine(metrics, renamed, {}, counter=int(counter.group(1)) if counter else None)


def keras_evaluation(line: FrameworkLine) -> FrameworkLine:
    """The same line read as ``model.evaluate`` output: its loss and accuracy are test metrics."""
    metrics = {KERAS_EVALUATION.get(k, k): v for k, v in line.metrics.items()}
    renamed = {KERAS_EVALUATION.get(k, k): v for k, v in line.renamed.items()}
    return line._replace(metrics=metrics, renamed=renamed)


def _keras_stand_in(key: str, printed: dict[str, str]) -> str | None:
    """``sparse_categorical_accuracy`` is the run's accuracy when plain ``accuracy`` is absent."""
    prefix = "val_" if key.startswith("val_") else ""
    if key[len(prefix) :] not in KERAS_STAND_INS:
        return None
    if prefix + "accuracy" in printed or prefix + "acc" in printed:
        return None
    return "val_accuracy" if prefix else "train_accuracy"


HF_NAMES = {"loss": "train_loss", "learning_rate": "lr"}
HF_NUM_EPOCHS = re.compile(r"\bNum Epochs\s*=\s*([\d,]{1,20})\s*$")
# Trainer prints values with repr(); a diverging run's nan/inf are not Python literals,
# and old versions printed tensors. This reads such dicts pair by pair.
HF_PAIR = re.compile(rf"'([^'\\]+)':\s*(?:tensor\()?({NUMBER}|'[^'\\]*'|True|False)")


def read_hf_trainer(segment: str) -> FrameworkLine | None:
    body = segment.strip()
    if not body.startswith("{") or "'epoch'" not in body:
        return None
    logs = _python_dict(body)
    x = _hf_number(logs.pop("epoch", None))
    if x is None:
        return None
    summary = "train_runtime" in logs
    metrics: dict[str, float] = {}
    renamed: dict[str, str] = {}
    info: dict[str, str | bool] = {}
    for key, value in logs.items():
        number = _hf_number(value)
        if number is None:
            if isinstance(value, bool | str):
                info[key] = value
            continue
        if summary and key == "train_loss":
            name = "train_loss_mean"
        elif key.startswith("eval_"):
            name = "val_" + key[5:]
        else:
            name = HF_NAMES.get(key, key)
        if name.endswith("accuracy"):
            number = percent(number)
        _put(metrics, renamed, name, key, number)
    epoch = max(1, math.ceil(x - 1e-6)) if math.isfinite(x) else None
    return FrameworkLine(metrics, renamed, info, epoch=epoch, x=x)


def _hf_number(value: object) -> float | None:
    """Trainer 4.x prints numbers; 5.x prints them as strings (``'loss': '0.694'``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def read_hf_num_epochs(segment: str) -> int | None:
    match = HF_NUM_EPOCHS.search(segment)
    return int(match.group(1).replace(",", "")) if match else None


def _python_dict(body: str) -> dict[str, object]:
    try:
        value = ast.literal_eval(body)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        value = None
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    logs: dict[str, object] = {}
    for key, raw in HF_PAIR.findall(body):
        if raw in ("True", "False"):
            logs[key] = raw == "True"
        elif raw.startswith("'"):
            logs[key] = raw[1:-1]
        else:
            logs[key] = float(raw)
    return logs


PYTORCH_TRAIN = re.compile(rf"^\s*Train Epoch:\s*(\d{{1,15}})\s*\[[^\]]*\]\s*Loss:\s*({NUMBER})")
PYTORCH_TEST = re.compile(
    rf"Test set: Average loss:\s*({NUMBER}),\s*Accuracy:\s*(\d{{1,15}})/(\d{{1,15}})\s*\(\s*[\d.]+%\s*\)"
)


def read_pytorch_example(segment: str) -> FrameworkLine | None:
    if "Train Epoch:" in segment:
        match = PYTORCH_TRAIN.match(segment)
        if match:
            return FrameworkLine(
                {"train_loss": float(match.group(2))},
                {"train_loss": "Loss"},
                {},
                epoch=int(match.group(1)),
            )
    if "Test set:" in segment:
        match = PYTORCH_TEST.search(segment)
        if match:
            correct, total = int(match.group(2)), int(match.group(3))
            metrics = {"test_loss": float(match.group(1))}
            renamed = {"test_loss": "Average loss"}
            if total > 0:
                metrics["test_accuracy"] = percent(correct / total)
                renamed["test_accuracy"] = "Accuracy"
            return FrameworkLine(metrics, renamed, {})
    return None


def _put(
    metrics: dict[str, float], renamed: dict[str, str], name: str, printed: str, value: float
) -> None:
    metrics[name] = value
    if printed != name:
        renamed[name] = printed
