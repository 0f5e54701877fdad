"""Rules about metrics that every layer shares (the API's summaries, the CLI's tables)."""

from __future__ import annotations


def lower_is_better(key: str) -> bool:
    """Losses, errors and perplexities are best when low; everything else (accuracy, …) when high."""
    lowered = key.lower()
    return "loss" in lowered or "error" in lowered or "perplexity" in lowered
