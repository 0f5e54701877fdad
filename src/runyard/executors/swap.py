"""Hot-swap: put a file or directory in place of one in the run's workdir, and put the
original back afterwards — surviving a crash at any point in between.

The service journals a :class:`SwapRecord` in the database *before* :func:`apply_swap`,
and marks it restored after :func:`restore_swap` returns. Recovery after a crash is always
the same call, ``restore_swap(record)``, whatever step the crash interrupted. That works
because of one rule: **the target is never changed until the original is complete at the
backup path** (moved there by one ``rename``, or copied to ``backup.partial`` and renamed).
So, for a target that existed:

* backup present → the original is safe there; the target may be anything (original gone
  by rename, swapped copy, half-deleted directory) and is replaced by the backup;
* backup absent → the target was never touched: it *is* the original.

A target that did not exist is simply removed by restore. Temporary names are fixed
(``.<name>.runyard-tmp`` beside the target, ``<backup>.partial``), so a later call finds
and removes what an interrupted one left. Parent directories that ``apply_swap`` had to
create are left in place by restore.
"""

from __future__ import annotations

import errno
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from runyard.errors import Conflict, InvalidSpec


@dataclass(frozen=True)
class SwapRecord:
    """One planned swap, with absolute paths; what the service journals before applying."""

    target: str
    source: str
    backup: str
    existed: bool


def plan_swap(workdir: Path, source: str, target: str, backup_dir: Path, index: int) -> SwapRecord:
    """Resolve the paths of one swap (``target`` relative to ``workdir``, ``source`` too
    when relative) without changing anything; a target outside the workdir is refused.

    Symlinks in the target's *parent* are resolved, so ``link/x`` with ``link -> /etc``
    is caught; the target itself is not followed: a symlink target is swapped as a link.
    """
    root = workdir.expanduser().resolve()
    raw = Path(target).expanduser()
    joined = raw if raw.is_absolute() else root / raw
    if not joined.name or joined.name in (".", ".."):
        raise InvalidSpec(f"swap target {target!r} must name a file or directory", "swaps")
    resolved = joined.parent.resolve() / joined.name
    if resolved == root or not resolved.is_relative_to(root):
        raise InvalidSpec(f"swap target {target!r} is outside the workdir {root}", "swaps")
    source_path = Path(source).expanduser()
    source_abs = Path(
        os.path.abspath(source_path if source_path.is_absolute() else root / source_path)
    )
    if source_abs == resolved or source_abs.is_relative_to(resolved):
        raise InvalidSpec(f"swap source {source!r} lies inside its own target {target!r}", "swaps")
    backup = backup_dir.expanduser().resolve() / f"swap-{index}-{resolved.name}"
    return SwapRecord(
        target=str(resolved),
        source=str(source_abs),
        backup=str(backup),
        existed=os.path.lexists(resolved),
    )


def apply_swap(record: SwapRecord) -> None:
    """Back up the original target (if any), then put a copy of the source in its place.

    Idempotent: once the backup exists it is never written again, so a second call (after
    a crash, or by mistake) cannot replace the original with the swapped copy.
    """
    target, backup = Path(record.target), Path(record.backup)
    if not os.path.lexists(record.source):
        raise InvalidSpec(f"swap source {record.source} does not exist", "swaps")
    _remove(_partial(backup))
    _remove(_tmp_beside(target))
    if record.existed and not os.path.lexists(backup):
        if not os.path.lexists(target):
            raise Conflict(f"swap target {target} disappeared before it could be backed up")
        _back_up(target, backup)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_beside(target)
    _copy(Path(record.source), tmp, exact=False)
    _install(tmp, target)


def restore_swap(record: SwapRecord) -> None:
    """Put the original back (or remove the target if there was none). Safe to call
    whether apply never ran, ran halfway, or completed, and to call again."""
    target, backup = Path(record.target), Path(record.backup)
    _remove(_tmp_beside(target))
    _remove(_partial(backup))
    if not record.existed:
        _remove(target)
        return
    if not os.path.lexists(backup):
        return  # never backed up, so never swapped: the target is the original
    try:
        _install(backup, target)  # a rename: the backup is gone in the same step
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        tmp = _tmp_beside(target)
        _copy(backup, tmp, exact=True)
        _install(tmp, target)
        _remove(backup)  # only now: a crash before this repeats the copy, harmlessly


def _tmp_beside(target: Path) -> Path:
    return target.with_name(f".{target.name}.runyard-tmp")


def _partial(backup: Path) -> Path:
    return backup.with_name(backup.name + ".partial")


def _back_up(target: Path, backup: Path) -> None:
    """Make ``backup`` a complete copy of ``target`` in one visible step."""
    backup.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(target, backup)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        partial = _partial(backup)
        _copy(target, partial, exact=True)  # another file system: the target stays as it is
        os.rename(partial, backup)
    _fsync_dir(backup.parent)


def _install(path: Path, target: Path) -> None:
    """Rename ``path`` onto ``target``: atomic for files; a directory (or a change of kind)
    needs the old target removed first, which is safe because the original is backed up."""
    if os.path.lexists(target) and (_is_real_dir(target) or _is_real_dir(path)):
        _remove(target)
    os.replace(path, target)
    _fsync_dir(target.parent)


def _copy(source: Path, destination: Path, exact: bool) -> None:
    """Copy a file or directory, data on disk. ``exact`` (backups) keeps symlinks as links,
    so the original comes back as it was; otherwise (the swap source) links are followed,
    since the run must see the content they point at."""
    if _is_real_dir(source) or (not exact and source.is_dir()):
        shutil.copytree(source, destination, symlinks=exact)
        return
    shutil.copy2(source, destination, follow_symlinks=not exact)
    if not destination.is_symlink():
        with open(destination, "rb") as file:
            os.fsync(file.fileno())


def _remove(path: Path) -> None:
    if _is_real_dir(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def _is_real_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
