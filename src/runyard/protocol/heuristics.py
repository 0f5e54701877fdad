"""Everything read before a run's first PROGRESS line besides PROGRESS itself: legacy lines
(PROTOCOL.md §5) and framework output (§7), as :class:`Finding` values the parser applies.

Progress bars make this path hot: a tqdm line holds dozens of ``\\r``-redraws. So a line is
first *gated* as a whole (:func:`gate`): a few substring checks and at most two regular
expressions on the line say which readers can fire anywhere in it, and a line where none
can is skipped without splitting it. Only the readers the gate allows run per segment.
"""

from __future__ import annotations

from typing import NamedTuple

from runyard.protocol import frameworks, legacy
from runyard.protocol.model import Source

TRIGGERS: tuple[tuple[bytes, tuple[bytes, ...]], ...] = (
    (b"progress:", ()),
    (b"epoch", ()),  # Epoch N/M, HF's 'epoch' key and Num Epochs, PyTorch's Train Epoch:
    (b" loss", (*legacy.PAIR_SPLITS, b"-", b"average")),  # pairs, Keras "- loss:", PyTorch
    (b" acc", legacy.PAIR_SPLITS),
)
"""``(word, preceded by)``: every line the readers here (or PROGRESS) can use holds a word
(lowered) directly after one of the given endings, if any are given. Searching for
`` loss`` alone would make every tqdm bar with a ``loss=`` postfix a candidate; checking
the few bytes before each hit is far cheaper than reading those lines."""


class Gate(NamedTuple):
    """Which readers can find something somewhere in a line."""

    hf: bool
    pytorch: bool
    header: bool
    num_epochs: bool
    keras: bool
    pairs: bool


class Finding(NamedTuple):
    """What one reader found in one segment. ``epoch``/``total_epochs`` move the run;
    ``x`` None means the run's current x; empty ``metrics`` make no report."""

    source: Source
    metrics: dict[str, float]
    renamed: dict[str, str]
    info: dict[str, str | bool]
    epoch: int | None = None
    total_epochs: int | None = None
    x: float | None = None
    written_by_script: bool = False
    keras: frameworks.FrameworkLine | None = None
    """For Keras, the line itself: whether it is ``fit`` or ``evaluate`` depends on the run."""


def gate(text: str) -> Gate | None:
    """What may be in this line; None when nothing is (the common case for a progress bar)."""
    lowered = text.lower()
    result = Gate(
        hf="'epoch'" in text,
        pytorch="Train Epoch:" in text or "Test set:" in text,
        header="epoch" in lowered and legacy.HEADER.search(lowered) is not None,
        num_epochs="num epochs" in lowered,
        keras=frameworks.KERAS_TRIGGER in text,
        pairs=any(word in lowered for word in legacy.PAIR_WORDS),
    )
    return result if any(result) else None


def read_segment(body: str, allowed: Gate) -> list[Finding]:
    """The findings of one stripped, non-empty segment, the most specific format first."""
    if allowed.hf and body[0] == "{":
        hf = frameworks.read_hf_trainer(body)
        if hf is not None:
            return [
                Finding(Source.HF_TRAINER, hf.metrics, hf.renamed, hf.info, epoch=hf.epoch, x=hf.x)
            ]
    if allowed.pytorch:
        torch_line = frameworks.read_pytorch_example(body)
        if torch_line is not None:
            return [
                Finding(
                    Source.PYTORCH_EXAMPLE,
                    torch_line.metrics,
                    torch_line.renamed,
                    {},
                    epoch=torch_line.epoch,
                )
            ]
    found = []
    lowered = body.lower() if allowed.header or allowed.pairs or allowed.num_epochs else ""
    if allowed.header:
        header = legacy.read_header(lowered)
        if header is not None:
            found.append(
                Finding(Source.LEGACY, {}, {}, {}, epoch=header[0], total_epochs=header[1])
            )
    if allowed.num_epochs and "num epochs" in lowered:
        total = frameworks.read_hf_num_epochs(body)
        if total is not None:
            found.append(Finding(Source.HF_TRAINER, {}, {}, {}, total_epochs=total))
    if allowed.keras:
        keras = frameworks.read_keras(body)
        if keras is not None:
            found.append(Finding(Source.KERAS, keras.metrics, keras.renamed, {}, keras=keras))
    if allowed.pairs:
        pairs = legacy.read_pairs(body, lowered)
        if pairs:
            metrics = {pair.name: pair.value for pair in pairs}
            renamed = {pair.name: pair.printed for pair in pairs}
            found.append(Finding(Source.LEGACY, metrics, renamed, {}, written_by_script=True))
    return found
