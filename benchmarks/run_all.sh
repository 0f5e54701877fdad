#!/usr/bin/env bash
# `make bench`: every benchmark, in sequence; each writes its figures to benchmarks/results/.
# Run on a quiet machine: these are ratios against a baseline measured in the same run,
# but wall times on a shared 2-core box drift.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
$py benchmarks/bench_planner.py
$py benchmarks/bench_queue_latency.py --runs 200 --idle 50
$py benchmarks/bench_cli.py
$py benchmarks/bench_log_capture.py
$py benchmarks/bench_parser.py
$py benchmarks/bench_downsample.py
$py benchmarks/bench_ingest.py
$py benchmarks/bench_implicit_step.py
$py benchmarks/bench_api_list.py
$py benchmarks/bench_metrics_read.py
$py benchmarks/bench_streams.py
$py benchmarks/bench_ui.py
