"""Wall time of CLI commands that talk to the daemon, beside task-spooler's in the same run.

A real daemon with 20 finished runs; each round runs every command once, in turn
(hyperfine-style: whole processes, medians over the rounds, a warm-up round first).
The CLI's environment sets only ``RUNYARD_HOME``, as a user's does. Beside it: ``tsp -l``
and ``tsp CMD`` with 20 finished jobs (when task-spooler is installed), and the floor,
``python -c pass`` of the same interpreter. Goal: ``runyard ls`` median <= 100 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import Daemon, summary_ms, write_results

RUNYARD = str(Path(sys.executable).with_name("runyard"))


def clock(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        home = root / "home"
        daemon = Daemon(home)
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("RUNYARD_")}
        env["RUNYARD_HOME"] = str(home)
        for _ in range(20):
            daemon.submit(["true"])
        while daemon.client.get("/api/v1/runs", params={"status": "queued"}).json()["runs"]:
            time.sleep(0.05)
        commands: dict[str, list[str]] = {
            "runyard ls": [RUNYARD, "ls"],
            "runyard ls --json": [RUNYARD, "ls", "--json"],
            "runyard show 1": [RUNYARD, "show", "1"],
            "runyard submit -- true": [RUNYARD, "submit", "--", "true"],
            "runyard --version": [RUNYARD, "--version"],
            "python -c pass": [sys.executable, "-c", "pass"],
        }
        tsp = shutil.which("tsp") or shutil.which("ts")
        tsp_env = {**env, "TS_SOCKET": str(root / "ts.sock"), "TMPDIR": str(root)}
        if tsp is not None:
            for _ in range(20):
                subprocess.run([tsp, "true"], env=tsp_env, capture_output=True, check=True)
            subprocess.run([tsp, "-w"], env=tsp_env, capture_output=True)
            commands["tsp -l"] = [tsp, "-l"]
            commands["tsp true"] = [tsp, "true"]
        seconds: dict[str, list[float]] = {name: [] for name in commands}
        try:
            for round_ in range(args.rounds + 1):
                for name, argv in commands.items():
                    took = clock(argv, tsp_env if argv[0] == tsp else env)
                    if round_:  # the first round warms the page cache and the daemon
                        seconds[name].append(took)
        finally:
            if tsp is not None:
                subprocess.run([tsp, "-K"], env=tsp_env, capture_output=True)
            daemon.stop()
    figures: dict[str, object] = {name: summary_ms(s) for name, s in seconds.items()}
    if "tsp -l" in seconds:
        ls = figures["runyard ls"]["median_ms"]  # type: ignore[index]
        figures["ratio_ls_to_tsp_l"] = round(ls / figures["tsp -l"]["median_ms"], 1)  # type: ignore[index]
    write_results("cli", figures)


if __name__ == "__main__":
    main()
