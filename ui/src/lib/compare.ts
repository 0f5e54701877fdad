// Compare's table: each setting and result of several runs side by side, and whether
// they differ (the rows worth reading).
import type { Run } from "../api/types";
import { formatDuration, formatMetric, secondsBetween } from "./format";

export interface CompareRow {
  section: "settings" | "results";
  label: string;
  values: string[];
  differs: boolean;
}

function shown(value: unknown): string {
  if (value == null || value === "") return "—";
  if (Array.isArray(value)) return value.length ? value.map(shown).join(", ") : "—";
  if (typeof value === "number") return formatMetric(value);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function compareRows(runs: Run[]): CompareRow[] {
  const rows: CompareRow[] = [];
  const add = (section: CompareRow["section"], label: string, pick: (run: Run) => unknown) => {
    const values = runs.map((run) => shown(pick(run)));
    rows.push({ section, label, values, differs: new Set(values).size > 1 });
  };
  add("settings", "command", (r) => r.display_command);
  add("settings", "workdir", (r) => r.workdir);
  add("settings", "GPUs asked", (r) => (r.gpu_ids ? `pinned ${r.gpu_ids.join(",")}` : r.gpus_min === r.gpus_max ? r.gpus_min : `${r.gpus_min}-${r.gpus_max}`));
  add("settings", "GPU memory (MiB)", (r) => r.gpu_mem_mib);
  add("settings", "priority", (r) => r.priority);
  add("settings", "retries", (r) => `${r.retries} on ${r.retry_on}`);
  add("settings", "tags", (r) => r.tags);
  add("settings", "sweep", (r) => r.sweep);
  const envKeys = [...new Set(runs.flatMap((r) => Object.keys(r.env)))].sort();
  for (const key of envKeys) add("settings", `env ${key}`, (r) => r.env[key]);
  add("results", "status", (r) => r.status);
  add("results", "attempts", (r) => r.attempts.length);
  add("results", "duration", (r) => formatDuration(secondsBetween(r.started_at, r.finished_at)));
  add("results", "epoch", (r) => (r.progress.epoch != null ? `${r.progress.epoch}/${r.progress.total_epochs ?? "?"}` : null));
  add("results", "final accuracy", (r) => (r.final.accuracy != null ? `${formatMetric(r.final.accuracy)} (${r.final.accuracy_field})` : null));
  for (const key of ["train_loss", "val_loss", "test_loss"] as const) add("results", `final ${key}`, (r) => r.final[key]);
  const metricKeys = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();
  for (const key of metricKeys) add("results", `latest ${key}`, (r) => r.metrics[key]);
  return rows;
}
