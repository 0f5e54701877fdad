#!/usr/bin/env bash
# `make run`: start the daemon on 127.0.0.1 and queue a few example runs, then stay in the
# foreground until Ctrl-C (running attempts go on and are re-attached at the next start).
set -euo pipefail
cd "$(dirname "$0")/.."
runyard=.venv/bin/runyard
export RUNYARD_HOME="${RUNYARD_HOME:-$HOME/.runyard}"
"$runyard" serve --host 127.0.0.1 "$@" &
daemon=$!
trap 'kill -INT $daemon 2>/dev/null; wait $daemon' INT TERM
for _ in $(seq 100); do [ -s "$RUNYARD_HOME/server.json" ] && break; sleep 0.1; done
if [ "$("$runyard" ls --json | .venv/bin/python -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 0 ]; then
  first=$("$runyard" submit -q --name progress-demo -- python examples/progress_train.py --epochs 5 --sleep 0.5)
  "$runyard" submit -q --name legacy-demo --after "$first" -- python examples/legacy_train.py --epochs 3 >/dev/null
  "$runyard" submit -q --name shell-demo --shell 'echo hello from runyard; sleep 1; echo done' >/dev/null
fi
"$runyard" ls
echo "runyard is running: open $(.venv/bin/python -c 'import json,os; s=json.load(open(os.environ["RUNYARD_HOME"]+"/server.json")); print(s["url"] + "/?token=" + s["token"])') — Ctrl-C stops the daemon"
wait $daemon
