"""Reading what runs print (PROTOCOL.md): pure functions, no I/O.

The public surface: :class:`RunParser` (incremental, per run), :func:`parse_log` (a
whole log), :func:`final_results`, and the values they return. oom.py reads failure
signatures (§8) and is separate.
"""

from runyard.protocol.lines import MAX_LINE_BYTES, clean_line
from runyard.protocol.model import (
    MetricPoint,
    ParseResult,
    Progress,
    Report,
    RunWarning,
    Source,
    WarningKind,
)
from runyard.protocol.parser import RunParser
from runyard.protocol.results import FinalResults, final_results
from runyard.protocol.summary import LogSummary, parse_log

__all__ = [
    "MAX_LINE_BYTES",
    "FinalResults",
    "LogSummary",
    "MetricPoint",
    "ParseResult",
    "Progress",
    "Report",
    "RunParser",
    "RunWarning",
    "Source",
    "WarningKind",
    "clean_line",
    "final_results",
    "parse_log",
]
