"""Cutting a growing log into lines (PROTOCOL.md §1).

The log arrives as raw byte chunks of any size. :class:`LineSplitter` hands back *blocks*
of complete lines (each ending in ``\\n``) and numbers them, keeping an unfinished last
line for the next chunk. Lines longer than :data:`MAX_LINE_BYTES` are not parsed: such a
line is reported once as a :class:`LongLine` and then skipped up to its ``\\n``, without
buffering it, so a progress bar that never prints a newline cannot grow memory.

``offset`` counts the bytes fully dealt with (complete lines and skipped bytes), so a
reader that restarts from a saved offset reads nothing twice and loses nothing.

ANSI escapes never contain a newline, so they are stripped from whole blocks at once,
which keeps line numbers intact.
"""

from __future__ import annotations

import re
from typing import NamedTuple

MAX_LINE_BYTES = 1 << 20
"""A line with more bytes than this (its ``\\n`` not counted) is not parsed."""

HEAD_BYTES = 200
"""How much of a too-long line a warning quotes."""

# CSI (colours, cursor moves), OSC (titles, hyperlinks) and two-byte escapes. None of
# the classes admits b"\n", so stripping never joins two lines.
ANSI_ESCAPE = re.compile(rb"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b\n]*(?:\x07|\x1b\\)?|[@-Z\\-_])")


class Block(NamedTuple):
    """Complete lines, each ending in ``\\n``."""

    data: bytes


class LongLine(NamedTuple):
    """A line over the limit (it counts as one line, from the moment it is found)."""

    head: bytes


class LineSplitter:
    """Turns arbitrary byte chunks into blocks of complete lines, in order.

    Lines are not counted here: the parser counts them while it scans each block for
    candidates, so the newlines of a block are counted once, not twice.
    """

    def __init__(self, offset: int = 0, skipping: bool = False) -> None:
        self.offset = offset
        """Bytes passed so far; reading may resume here."""
        self.skipping = skipping
        """Inside a too-long line whose end has not arrived yet."""
        self._pending = bytearray()

    @property
    def pending_bytes(self) -> int:
        return len(self._pending)

    def feed(self, data: bytes) -> list[Block | LongLine]:
        out: list[Block | LongLine] = []
        if self.skipping:
            newline = data.find(b"\n")
            if newline < 0:
                self.offset += len(data)
                return out
            self.skipping = False
            self.offset += newline + 1
            data = data[newline + 1 :]
        last = data.rfind(b"\n")
        if last < 0:
            self._pending += data
        else:
            block = b"".join((self._pending, memoryview(data)[: last + 1]))
            self._pending = bytearray(data[last + 1 :])
            self._split_block(block, out)
        if len(self._pending) > MAX_LINE_BYTES:
            out.append(LongLine(bytes(self._pending[:HEAD_BYTES])))
            self.offset += len(self._pending)
            self._pending = bytearray()
            self.skipping = True
        return out

    def finish(self) -> list[Block | LongLine]:
        """End of the stream: a last line without ``\\n`` still counts."""
        out: list[Block | LongLine] = []
        self.skipping = False
        if self._pending:
            out.append(Block(bytes(self._pending) + b"\n"))
            self.offset += len(self._pending)
            self._pending = bytearray()
        return out

    def _split_block(self, block: bytes, out: list[Block | LongLine]) -> None:
        """Emit ``block`` (complete lines), cutting out lines over the limit.

        Only a block longer than the limit can hold a long line. It is walked in strides:
        the last newline within ``MAX_LINE_BYTES + 1`` bytes of ``pos`` proves every line
        up to it short, so the walk costs one ``rfind`` per MiB, never one per line.
        """
        pos = start = 0
        end = len(block)
        while end - pos > MAX_LINE_BYTES:
            last = block.rfind(b"\n", pos, pos + MAX_LINE_BYTES + 1)
            if last >= 0:
                pos = last + 1
                continue
            if pos > start:
                out.append(Block(block[start:pos]))
            line_end = block.find(b"\n", pos + MAX_LINE_BYTES + 1)
            out.append(LongLine(block[pos : pos + HEAD_BYTES]))
            pos = start = line_end + 1
        if start < end:
            out.append(Block(block if start == 0 else block[start:]))
        self.offset += len(block)


def strip_ansi(data: bytes) -> bytes:
    """Remove terminal escapes; cheap when there are none."""
    return ANSI_ESCAPE.sub(b"", data) if b"\x1b" in data else data


def decode(data: bytes) -> str:
    """Bytes that are not UTF-8 are replaced, never fatal."""
    return data.decode("utf-8", "replace")


def clean_line(raw: bytes) -> str:
    """The line as a log viewer shows it: the last ``\\r``-segment, escapes and backspaces removed.

    A trailing ``\\r`` (a Windows line end) does not count as a redraw.
    """
    text = decode(strip_ansi(raw.rstrip(b"\n")).replace(b"\b", b""))
    if text.endswith("\r"):
        text = text[:-1]
    return text.rpartition("\r")[2]
