"""Does running under the shim slow a chatty script down, and how fast does a run start?

    python benchmarks/bench_log_capture.py [--lines 2000000] [--rounds 3] [--launches 100]

1. Log capture: a script printing ``--lines`` lines (~155 MB at the default) run (a) by the
   shell, ``sh -c 'python script.py > file 2>&1'``, and (b) under the shim through
   ``LocalExecutor.launch`` + ``wait``; a and b alternate, ``--rounds`` each, and the medians
   of wall time are compared (goal: b/a ≤ 1.05). Both get runyard's environment for a run,
   ``PYTHONUNBUFFERED=1`` included (one write per line; ``--buffered`` drops it).
   CPU seconds of each process tree are reported beside wall time: on a busy machine they
   are the steadier measure of "the script was slowed".
2. Launch latency: from calling ``launch()`` to the command running, measured by a command
   (``date +%s.%N``) that prints its own start time into the log; ``--launches`` times, for
   a shim forked by the executor's launcher (the default) and a shim spawned as its own
   interpreter from a compiled copy (the fallback), with the same command started directly
   (posix_spawn, no shim) and bare ``python -I -S`` start as baselines of the same run.

Figures go to stdout and ``benchmarks/results/log_capture.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import py_compile
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from runyard.executors.local import SHIM, LocalExecutor

RESULTS = Path(__file__).parent / "results" / "log_capture.json"
CHATTY = """\
import sys
for i in range(int(sys.argv[1])):
    print(f"step {i} loss {1.0 / (i + 1):.6f} lr 0.000300 some padding text to look like a real log")
"""


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_shell(
    python: str, script: Path, lines: int, out: Path, env: dict[str, str]
) -> tuple[float, float]:
    """Wall and CPU seconds (sh and python, both reaped) of the shell-redirect baseline."""
    cpu, started = children_cpu_s(), time.perf_counter()
    subprocess.run(
        ["sh", "-c", f"'{python}' '{script}' {lines} > '{out}' 2>&1"], env=env, check=True
    )
    return time.perf_counter() - started, children_cpu_s() - cpu


def run_shim(
    executor: LocalExecutor, argv: list[str], attempt: Path, env: dict[str, str]
) -> tuple[float, float]:
    """Wall and CPU seconds (shim and command: the shim reaps the command, wait() the shim)."""
    cpu, started = children_cpu_s(), time.perf_counter()
    handle = executor.launch(attempt, argv, str(attempt), env, None)
    asyncio.run(executor.wait(handle))
    elapsed = time.perf_counter() - started
    info = executor.read_exit(attempt)
    assert info is not None and info.exit_code == 0, info
    return elapsed, children_cpu_s() - cpu


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary_ms(values: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(values) * 1000, 3),
        "p95_ms": round(percentile(values, 0.95) * 1000, 3),
    }


class _NoLauncher:
    """Stands in for the executor's launcher so that every shim is spawned as its own
    interpreter (what happens when the launcher cannot be used)."""

    pid = None

    def fork_shim(self, attempt_dir: Path) -> None:
        return None

    def close(self) -> None:
        pass


def bench_capture(work: Path, lines: int, rounds: int, env: dict[str, str]) -> dict[str, object]:
    script = work / "chatty.py"
    script.write_text(CHATTY)
    # A spawned shim is this process's child, so its CPU (and its command's) is counted in
    # RUSAGE_CHILDREN; a forked one runs the same code on the same log path.
    executor = LocalExecutor()
    executor.launcher.close()
    executor.launcher = _NoLauncher()  # type: ignore[assignment]
    runs: dict[str, list[tuple[float, float]]] = {"shell": [], "shim": []}
    for i in range(rounds):
        out = work / f"shell-{i}.log"
        runs["shell"].append(run_shell(sys.executable, script, lines, out, env))
        attempt = work / f"attempt-{i}"
        runs["shim"].append(
            run_shim(executor, [sys.executable, str(script), str(lines)], attempt, env)
        )
        size, shim_size = out.stat().st_size, (attempt / "output.log").stat().st_size
        assert size == shim_size, (size, shim_size)
        out.unlink()
        (attempt / "output.log").unlink()
    wall = {name: [w for w, _ in values] for name, values in runs.items()}
    cpu = {name: [c for _, c in values] for name, values in runs.items()}
    ratio = statistics.median(wall["shim"]) / statistics.median(wall["shell"])
    cpu_ratio = statistics.median(cpu["shim"]) / statistics.median(cpu["shell"])
    print(f"log capture, {lines:,} lines, {size / 1e6:.0f} MB, {rounds} rounds each (wall; cpu):")
    for name, label in (("shell", "(a) sh -c '... > file 2>&1'"), ("shim", "(b) shim")):
        print(
            f"  {label:<28} median {statistics.median(wall[name]):.3f} s; {statistics.median(cpu[name]):.3f} s"
            f"   {[round(w, 3) for w in wall[name]]}"
        )
    print(f"  ratio b/a: wall {ratio:.3f}, cpu {cpu_ratio:.3f}  (goal <= 1.05)")
    return {
        "lines": lines,
        "bytes": size,
        "rounds": rounds,
        "shell_wall_s": wall["shell"],
        "shim_wall_s": wall["shim"],
        "shell_cpu_s": cpu["shell"],
        "shim_cpu_s": cpu["shim"],
        "shell_median_s": statistics.median(wall["shell"]),
        "shim_median_s": statistics.median(wall["shim"]),
        "ratio": ratio,
        "cpu_ratio": cpu_ratio,
        "goal_ratio": 1.05,
    }


def launch_once(executor: LocalExecutor, attempt: Path, env: dict[str, str]) -> tuple[float, float]:
    """(launch() → command running, launch() call) in seconds."""
    t0 = time.time()
    handle = executor.launch(attempt, ["date", "+%s.%N"], str(attempt), env, None)
    call = time.time() - t0
    asyncio.run(executor.wait(handle))
    return float((attempt / "output.log").read_text()) - t0, call


def direct_once(out: Path, env: dict[str, str]) -> float:
    """The same command started without a shim: the floor."""
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    t0 = time.time()
    pid = os.posix_spawnp(
        "date", ["date", "+%s.%N"], env, file_actions=[(os.POSIX_SPAWN_DUP2, fd, 1)]
    )
    os.waitpid(pid, 0)
    os.close(fd)
    return float(out.read_text()) - t0


def bench_launch(work: Path, launches: int, env: dict[str, str]) -> dict[str, object]:
    """Interleaved: a shim forked by the launcher (the default), a spawned shim from a
    compiled copy (the fallback), no shim, bare Python."""
    forked, spawned = LocalExecutor(), LocalExecutor()
    spawned.launcher.close()
    spawned.launcher = _NoLauncher()  # type: ignore[assignment]
    spawned.shim = work / "shim.pyc"
    py_compile.compile(str(SHIM), cfile=str(spawned.shim), doraise=True)
    launch_once(forked, work / "warm-up", env)  # the launcher starts on the first launch
    samples: dict[str, list[float]] = {
        "forked_shim_to_command": [],
        "launch_call": [],
        "spawned_shim_bytecode_to_command": [],
        "spawned_launch_call": [],
        "direct_spawn_to_command": [],
        "python_I_S_start_to_exit": [],
    }
    for i in range(launches):
        to_command, call = launch_once(forked, work / f"forked-{i}", env)
        samples["forked_shim_to_command"].append(to_command)
        samples["launch_call"].append(call)
        to_command, call = launch_once(spawned, work / f"spawned-{i}", env)
        samples["spawned_shim_bytecode_to_command"].append(to_command)
        samples["spawned_launch_call"].append(call)
        samples["direct_spawn_to_command"].append(direct_once(work / f"direct-{i}.log", env))
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], check=True)
        samples["python_I_S_start_to_exit"].append(time.perf_counter() - t0)
    forked.close()
    results: dict[str, object] = {name: summary_ms(values) for name, values in samples.items()}
    results["launches"] = launches
    print(f"launch latency, {launches} launches of `date +%s.%N` (median / p95):")
    for name in samples:
        figures = summary_ms(samples[name])
        print(f"  {name:<34} {figures['median_ms']:8.2f} ms  {figures['p95_ms']:8.2f} ms")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--launches", type=int, default=100)
    parser.add_argument("--buffered", action="store_true", help="leave PYTHONUNBUFFERED out")
    args = parser.parse_args()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CUDA_VISIBLE_DEVICES": ""}
    if not args.buffered:
        env["PYTHONUNBUFFERED"] = "1"
    with tempfile.TemporaryDirectory(prefix="runyard-bench-") as tmp:
        work = Path(tmp)
        capture = bench_capture(work, args.lines, args.rounds, env)
        launch = bench_launch(work, args.launches, env)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    machine = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    RESULTS.write_text(
        json.dumps(
            {"machine": machine, "env": env, "log_capture": capture, "launch": launch}, indent=2
        )
        + "\n"
    )
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
