"""Hot-swap file operations: real files under tmp_path, crash points simulated by hand."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runyard.errors import InvalidSpec
from runyard.executors.swap import SwapRecord, apply_swap, plan_swap, restore_swap


def snapshot(path: Path) -> dict[str, str] | str | None:
    """A comparable picture of a file (its text), a directory tree, or nothing."""
    if path.is_symlink():
        return f"-> {os.readlink(path)}"
    if path.is_dir():
        return {
            str(p.relative_to(path)): p.read_text() for p in sorted(path.rglob("*")) if p.is_file()
        }
    return path.read_text() if path.exists() else None


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "work" / "pkg").mkdir(parents=True)
    (tmp_path / "work" / "pkg" / "model.py").write_text("original model\n")
    (tmp_path / "work" / "pkg" / "sub").mkdir()
    (tmp_path / "work" / "pkg" / "sub" / "a.txt").write_text("original a\n")
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "model.py").write_text("swapped model\n")
    (tmp_path / "new" / "sub").mkdir()
    (tmp_path / "new" / "sub" / "b.txt").write_text("swapped b\n")
    return tmp_path / "work"


def plan(workdir: Path, source: str, target: str, backup_dir: Path | None = None) -> SwapRecord:
    return plan_swap(workdir, source, target, backup_dir or workdir.parent / "backups", 0)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("../new/model.py", "pkg/model.py"),
        ("../new/sub", "pkg/sub"),
        ("../new/model.py", "pkg/fresh.py"),
    ],
    ids=["file", "dir", "target-missing"],
)
def test_apply_then_restore_round_trips(workdir: Path, source: str, target: str) -> None:
    record = plan(workdir, source, target)
    before = snapshot(workdir)
    apply_swap(record)
    assert snapshot(Path(record.target)) == snapshot(Path(record.source))
    restore_swap(record)
    assert snapshot(workdir) == before
    assert not os.path.lexists(record.backup)


def test_plan_resolves_paths_and_touches_nothing(workdir: Path) -> None:
    before = snapshot(workdir)
    record = plan(workdir, "../new/model.py", "pkg/model.py")
    assert record.target == str(workdir.resolve() / "pkg" / "model.py")
    assert record.source == str(workdir.parent.resolve() / "new" / "model.py")
    assert record.existed and Path(record.backup).is_absolute()
    assert plan(workdir, "../new/model.py", "pkg/none.py").existed is False
    assert snapshot(workdir) == before and not (workdir.parent / "backups").exists()


@pytest.mark.parametrize(
    "target", ["../outside.py", "pkg/../../outside.py", "/etc/passwd", ".", "pkg/.."]
)
def test_target_outside_the_workdir_is_refused(workdir: Path, target: str) -> None:
    with pytest.raises(InvalidSpec):
        plan(workdir, "../new/model.py", target)


def test_escape_through_a_symlinked_directory_is_refused(workdir: Path, tmp_path: Path) -> None:
    (workdir / "link").symlink_to(tmp_path / "new")
    with pytest.raises(InvalidSpec):
        plan(workdir, "../new/model.py", "link/model.py")


def test_source_inside_its_target_is_refused(workdir: Path) -> None:
    with pytest.raises(InvalidSpec):
        plan(workdir, "pkg/sub/a.txt", "pkg/sub")


def test_missing_source_is_refused_before_anything_changes(workdir: Path) -> None:
    record = plan(workdir, "../new/gone.py", "pkg/model.py")
    with pytest.raises(InvalidSpec):
        apply_swap(record)
    assert (workdir / "pkg" / "model.py").read_text() == "original model\n"


@pytest.mark.parametrize("target", ["pkg/model.py", "pkg/sub", "pkg/fresh.py"])
def test_apply_twice_keeps_the_original_backup(workdir: Path, target: str) -> None:
    source = "../new/sub" if target == "pkg/sub" else "../new/model.py"
    record = plan(workdir, source, target)
    before = snapshot(workdir)
    apply_swap(record)
    apply_swap(record)
    restore_swap(record)
    restore_swap(record)
    assert snapshot(workdir) == before


def test_restore_without_apply_changes_nothing(workdir: Path) -> None:
    record = plan(workdir, "../new/model.py", "pkg/model.py")
    before = snapshot(workdir)
    restore_swap(record)
    assert snapshot(workdir) == before


def test_symlink_target_is_swapped_and_restored_as_a_link(workdir: Path) -> None:
    (workdir / "current").symlink_to("pkg/model.py")
    record = plan(workdir, "../new/model.py", "current")
    apply_swap(record)
    assert not (workdir / "current").is_symlink()
    assert (workdir / "pkg" / "model.py").read_text() == "original model\n"
    restore_swap(record)
    assert os.readlink(workdir / "current") == "pkg/model.py"


# -- crash points: leave the disk as an interrupted apply_swap would, then recover ----------


def crash_after_backup_rename(record: SwapRecord) -> None:
    Path(record.backup).parent.mkdir(parents=True, exist_ok=True)
    os.rename(record.target, record.backup)


def crash_during_cross_device_backup(record: SwapRecord) -> None:
    partial = Path(record.backup + ".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_text("half a cop")


def crash_while_copying_the_source(record: SwapRecord) -> None:
    crash_after_backup_rename(record)
    tmp = Path(record.target).with_name(f".{Path(record.target).name}.runyard-tmp")
    tmp.mkdir()
    (tmp / "b.txt").write_text("swa")


def crash_while_removing_the_old_target(record: SwapRecord) -> None:
    """Cross-device case: the backup is a complete copy; the old target is half deleted."""
    shutil.copytree(record.target, record.backup, symlinks=True)
    os.unlink(Path(record.target) / "a.txt")


CRASHES: list[Callable[[SwapRecord], None]] = [
    crash_after_backup_rename,
    crash_during_cross_device_backup,
    crash_while_copying_the_source,
    crash_while_removing_the_old_target,
]


@pytest.mark.parametrize("crash", CRASHES, ids=lambda f: f.__name__)
def test_restore_recovers_from_every_crash_point(
    workdir: Path, crash: Callable[[SwapRecord], None]
) -> None:
    record = plan(workdir, "../new/sub", "pkg/sub")
    before = snapshot(workdir)
    crash(record)
    restore_swap(record)
    assert snapshot(workdir) == before
    assert not os.path.lexists(record.backup)
    assert not os.path.lexists(record.backup + ".partial")


@pytest.mark.parametrize("crash", CRASHES, ids=lambda f: f.__name__)
def test_apply_after_a_crash_still_keeps_the_original(
    workdir: Path, crash: Callable[[SwapRecord], None]
) -> None:
    record = plan(workdir, "../new/sub", "pkg/sub")
    before = snapshot(workdir)
    crash(record)
    apply_swap(record)
    assert snapshot(workdir / "pkg" / "sub") == {"b.txt": "swapped b\n"}
    restore_swap(record)
    assert snapshot(workdir) == before


# -- another file system for the backups: the copy path instead of rename -----------------


@pytest.fixture
def other_device_dir(tmp_path: Path) -> Iterator[Path]:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second file system to put backups on")
    with tempfile.TemporaryDirectory(dir=shm) as name:
        yield Path(name)


@pytest.mark.parametrize(
    ("source", "target"), [("../new/model.py", "pkg/model.py"), ("../new/sub", "pkg/sub")]
)
def test_backups_on_another_file_system(
    workdir: Path, other_device_dir: Path, source: str, target: str
) -> None:
    record = plan(workdir, source, target, other_device_dir)
    before = snapshot(workdir)
    apply_swap(record)
    apply_swap(record)
    assert snapshot(Path(record.target)) == snapshot(Path(record.source))
    restore_swap(record)
    assert snapshot(workdir) == before
    assert not os.path.lexists(record.backup)


def test_a_symlinked_source_is_copied_as_its_content(workdir: Path, tmp_path: Path) -> None:
    (tmp_path / "latest.py").symlink_to(tmp_path / "new" / "model.py")
    record = plan(workdir, str(tmp_path / "latest.py"), "pkg/model.py")
    apply_swap(record)
    target = workdir / "pkg" / "model.py"
    assert not target.is_symlink() and target.read_text() == "swapped model\n"
    restore_swap(record)
    assert target.read_text() == "original model\n"
