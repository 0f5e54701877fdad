// A run's stream applied to what the run page shows: the run (header, progress, latest
// and final metrics, warnings), whether it has ended, and what the charts, the log and
// the lists must hear about (new points, new output, something to re-read).
import type { Run, StreamMessage } from "../api/types";

export interface RunState {
  run: Run | null;
  /** The attempt whose output the stream sends, and its size when the stream started. */
  log: { attempt: number | null; size: number } | null;
  ended: boolean;
  error: string | null;
  /** Bumped when the stream restarts (a fresh `state`): series must be read again. */
  epoch: number;
}

export const initialRunState: RunState = { run: null, log: null, ended: false, error: null, epoch: 0 };

export interface LogMessage {
  attempt: number | null;
  offset: number;
  end: number;
  skipped: number;
  text: string;
}

export interface RunEffects {
  points?: [string, number, number | string][];
  /** Some points of the burst were not sent: re-read the series. */
  refetchMetrics?: boolean;
  log?: LogMessage;
  /** An event-like message: the events, snapshots and files lists may have grown. */
  listsChanged?: boolean;
}

export function applyRunMessage(state: RunState, message: StreamMessage): [RunState, RunEffects] {
  const data = message.data;
  switch (message.kind) {
    case "state": {
      const { log, ...run } = data as Run & { log: RunState["log"] };
      return [{ ...state, run: run as Run, log, error: null, epoch: state.epoch + 1 }, { listsChanged: true }];
    }
    case "run":
      return [{ ...state, run: data as Run }, { listsChanged: true }];
    case "metrics": {
      if (!state.run) return [state, {}];
      const points = (data.points ?? []) as [string, number, number | string][];
      const metrics = { ...state.run.metrics };
      for (const [key, , value] of points) metrics[key] = value;
      const run = { ...state.run, metrics, progress: data.progress ?? state.run.progress };
      return [{ ...state, run }, { points, refetchMetrics: (data.count ?? points.length) > points.length }];
    }
    case "log":
      return [state, { log: { attempt: message.attempt, ...(data as Omit<LogMessage, "attempt">) } }];
    case "warning": {
      if (!state.run) return [state, {}];
      const warning = { kind: data.warning, line: data.line ?? null, text: data.text ?? null,
                        message: data.message ?? null, attempt: message.attempt };
      if (state.run.warnings.some((w) => w.kind === warning.kind)) return [state, { listsChanged: true }];
      return [{ ...state, run: { ...state.run, warnings: [...state.run.warnings, warning] } }, { listsChanged: true }];
    }
    case "final":
      if (!state.run) return [state, {}];
      return [{ ...state, run: { ...state.run, final: { ...state.run.final, ...data } } }, { listsChanged: true }];
    case "end":
      return [{ ...state, ended: true }, { listsChanged: true }];
    case "error":
      return [{ ...state, error: (data?.detail as string) ?? "this run does not exist" }, {}];
    case "status":
    case "report":
    case "snapshot_saved":
      return [state, { listsChanged: true }];
    default:
      return [state, {}]; // "missed" is followed by a fresh "state"
  }
}
