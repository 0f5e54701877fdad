// Runs and messages shaped as the daemon sends them (service/render.py, service/streams.py).
import type { Run, StreamMessage } from "../api/types";

export function makeRun(id: number, patch: Partial<Run> = {}): Run {
  return {
    id, name: `run ${id}`, sweep: null, status: "queued", reason: null, exit_code: null, signal: null,
    attempts: [], gpus: [], command: ["python", "train.py"], display_command: "python train.py", shell: false,
    workdir: "/work", env: {}, priority: 0, retries: 0, retry_on: "any", timeout_s: null, tags: [],
    after: [], after_any: [], setup: null, swaps: [], gpus_min: 1, gpus_max: 1, gpu_mem_mib: null, gpu_ids: null,
    created_at: "2026-01-01T00:00:00.000Z", started_at: null, finished_at: null, waiting_for: null,
    progress: { epoch: null, total_epochs: null, step: null, eta_s: null, seconds_per_epoch: null },
    final: { accuracy: null, accuracy_field: null, train_loss: null, test_loss: null, val_loss: null },
    metrics: {}, info: {}, warnings: [], spec: {},
    ...patch,
  };
}

export function message(kind: string, data: unknown, run_id: number | null = null, attempt: number | null = null): StreamMessage {
  return { kind, data, run_id, attempt, time: 1_800_000_000 };
}
