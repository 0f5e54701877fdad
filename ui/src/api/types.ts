// The shapes the daemon's API answers with (docs/API.md; service/render.py renders runs).

export type RunStatus =
  | "queued" | "waiting" | "preparing" | "running" | "paused"
  | "completed" | "failed" | "cancelled" | "lost";

export const STATUSES: RunStatus[] = [
  "queued", "waiting", "preparing", "running", "paused", "completed", "failed", "cancelled", "lost",
];
export const FINISHED: ReadonlySet<RunStatus> = new Set(["completed", "failed", "cancelled", "lost"]);

/** A metric value as the API sends it: non-finite values are the strings "NaN", "Infinity"… */
export type MetricValue = number | string;

export interface Attempt {
  number: number;
  status: string;
  gpus: number[];
  pid: number | null;
  started_at: string | null;
  finished_at: string | null;
  exit_code: number | null;
  signal: number | null;
  reason: string | null;
}

export interface Progress {
  epoch: number | null;
  total_epochs: number | null;
  step: number | null;
  eta_s: number | null;
  seconds_per_epoch: number | null;
}

export interface Final {
  accuracy: number | null;
  accuracy_field: string | null;
  train_loss: number | null;
  test_loss: number | null;
  val_loss: number | null;
}

export interface Warning {
  kind: string;
  line: number | null;
  text: string | null;
  message: string | null;
  attempt: number | null;
}

export interface Swap { source: string; target: string }

export interface Run {
  id: number;
  name: string | null;
  sweep: string | null;
  status: RunStatus;
  reason: string | null;
  exit_code: number | null;
  signal: number | null;
  attempts: Attempt[];
  gpus: number[];
  command: string[];
  display_command: string;
  shell: boolean;
  workdir: string;
  env: Record<string, string>;
  priority: number;
  retries: number;
  retry_on: string;
  timeout_s: number | null;
  tags: string[];
  after: number[];
  after_any: number[];
  setup: string | null;
  swaps: Swap[];
  gpus_min: number | null;
  gpus_max: number | null;
  gpu_mem_mib: number | null;
  gpu_ids: number[] | null;
  created_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  waiting_for: string | null;
  progress: Progress;
  final: Final;
  metrics: Record<string, MetricValue>;
  info: Record<string, unknown>;
  warnings: Warning[];
  spec: Record<string, unknown>;
}

export type Counts = Partial<Record<RunStatus, number>>;

export interface RunPage {
  runs: Run[];
  next_cursor: string | null;
  total: number;
  counts: Counts;
}

export interface GpuProcess { pid: number; used_mib: number; run_id: number | null }

export interface Gpu {
  index: number;
  uuid: string | null;
  name: string | null;
  memory_mib: number;
  used_mib: number;
  external_mib: number;
  external_busy: boolean;
  utilization: number | null;
  processes: GpuProcess[];
  runs: { run_id: number; mem_mib: number | null }[];
  /** [time (s), used MiB, utilization %|null], oldest first (only with ?history=true). */
  history?: [number, number, number | null][];
}

export interface GpuList { source: string; gpus: Gpu[] }

/** One message of a live stream (WebSocket text frame). */
export interface StreamMessage<D = any> {
  run_id: number | null;
  attempt: number | null;
  time: number;
  kind: string;
  data: D;
}

export interface RunEvent {
  id: number;
  time: number;
  kind: string;
  attempt: number | null;
  data: Record<string, unknown>;
}

export interface Snapshot { name: string; size: number; mtime: number }
export interface RunFile { path: string; size: number; mtime: number }

/** Metric series: x, value (non-finite values arrive as strings). */
export type Series = [number, MetricValue][];
