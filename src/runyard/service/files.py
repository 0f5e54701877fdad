"""A run's files (spec.json, each attempt's output.log, events.jsonl, scalars.csv,
figures/, stats/, checkpoints a script wrote there): listed and served by relative path,
never outside the run's folder — no ``..``, no absolute path, no symlink that leads out."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from runyard.errors import InvalidSpec, NotFound
from runyard.service.runs import get_run

if TYPE_CHECKING:
    from runyard.context import Context

MAX_LISTED = 10_000
NAME_MAX, PATH_MAX = 255, 4096
"""Bytes of one name and of a whole path that Linux file systems take (longer: ENAMETOOLONG)."""
SHOWN = 120
"""Characters of a refused path quoted back in the error."""


def inside(root: Path, relative: str) -> Path:
    """The regular file at ``relative`` under ``root``; InvalidSpec for a path that tries
    to leave it or that no file system could hold, NotFound for one that does not exist."""
    parts = PurePosixPath(relative).parts
    shown = relative if len(relative) <= SHOWN else relative[:SHOWN] + "…"
    if not relative or "\x00" in relative or relative.startswith("/") or ".." in parts or "\\" in relative:
        raise InvalidSpec(f"{shown!r} is not a path inside the run's folder (write it relative, without ..)", "path")
    if (len(relative.encode("utf-8", "surrogateescape")) > PATH_MAX
            or any(len(part.encode("utf-8", "surrogateescape")) > NAME_MAX for part in parts)):
        raise InvalidSpec(f"{shown!r} is longer than a file path can be (a name at most {NAME_MAX} bytes,"
                          f" the whole at most {PATH_MAX})", "path")
    try:
        real_root = root.resolve()
        path = (real_root / relative).resolve()
        if not path.is_relative_to(real_root):
            raise InvalidSpec(f"{shown!r} leads outside the run's folder", "path")
        found = path.is_file()
    except OSError as error:  # a symlink loop, a name the file system refuses
        raise NotFound(f"the run's file {shown!r} cannot be read ({error.strerror or 'error'})") from None
    if not found:
        raise NotFound(f"the run has no file {shown!r}")
    return path


def list_files(ctx: Context, run_id: int) -> list[dict[str, Any]]:
    """Every regular file of the run, by relative path (symlinks are not followed)."""
    get_run(ctx, run_id)
    root = ctx.home.run_dir(run_id)
    found: list[dict[str, Any]] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(dirs)
        for name in sorted(names):
            path = Path(folder, name)
            if path.is_symlink() or not path.is_file() or name.startswith("."):
                continue
            stat = path.stat()
            found.append({"path": path.relative_to(root).as_posix(), "size": stat.st_size, "mtime": stat.st_mtime})
            if len(found) >= MAX_LISTED:
                return found
    return found


def run_file(ctx: Context, run_id: int, relative: str) -> Path:
    get_run(ctx, run_id)
    return inside(ctx.home.run_dir(run_id), relative)
