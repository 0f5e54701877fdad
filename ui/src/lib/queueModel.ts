// The queue page's live model: the runs on screen, keyed by id, and their order. Queue
// stream messages are applied here in place (no copy of 10,000 runs per message); each
// call says which rows changed, so only those re-render.
import type { Counts, Gpu, Run, StreamMessage } from "../api/types";
import type { QueueFilters } from "./urlState";

export interface Changes {
  /** Runs whose row must re-render. */
  rows: Set<number>;
  /** The order of rows changed (inserted or removed). */
  order: boolean;
  counts: boolean;
  gpus: boolean;
  /** The stream restarted (a `state` after a reconnect or missed messages): re-read the list. */
  resync: boolean;
}

export function noChanges(): Changes {
  return { rows: new Set(), order: false, counts: false, gpus: false, resync: false };
}

/** Whether a run belongs in a list shown with these filters (the API's own rules). */
export function matchesFilters(run: Run, filters: QueueFilters): boolean {
  if (filters.status.length && !filters.status.includes(run.status)) return false;
  if (filters.tag.length && !run.tags.some((t) => filters.tag.includes(t))) return false;
  if (filters.sweep && run.sweep !== filters.sweep) return false;
  if (filters.q) {
    const needle = filters.q.toLowerCase();
    const hay = `${run.name ?? ""}\n${run.display_command}`.toLowerCase();
    if (!hay.includes(needle)) return false;
  }
  return true;
}

/** Sorts under which a brand-new run belongs at the top of the list. */
const NEWEST_FIRST = new Set(["-id", "-created_at"]);

export class QueueModel {
  runs = new Map<number, Run>();
  order: number[] = [];
  /** Counts per status from the stream (every run, no filters). */
  liveCounts: Counts = {};
  gpus: Gpu[] = [];
  /** New runs that match the filters but whose place under the current sort is unknown. */
  pendingNew = 0;
  /** Rows the server says exist beyond what is loaded (paging). */
  total = 0;
  started = false;
  /** The highest run id seen: a run above it is new, one below it exists beyond the loaded pages. */
  maxSeenId = 0;

  constructor(public filters: QueueFilters, public sort: string) {}

  /** Replaces the rows with the first page read from the API. */
  load(runs: Run[], total: number): void {
    this.runs = new Map(runs.map((r) => [r.id, r]));
    this.order = runs.map((r) => r.id);
    this.total = total;
    this.pendingNew = 0;
    this.see(runs);
  }

  private see(runs: Run[]): void {
    for (const run of runs) if (run.id > this.maxSeenId) this.maxSeenId = run.id;
  }

  /** Appends a further page (keyset paging: never overlaps, but be safe). */
  append(runs: Run[], total: number): void {
    for (const run of runs) {
      if (!this.runs.has(run.id)) this.order.push(run.id);
      this.runs.set(run.id, run);
    }
    this.total = total;
    this.see(runs);
  }

  apply(message: StreamMessage, changes: Changes = noChanges()): Changes {
    const id = message.run_id;
    switch (message.kind) {
      case "state": {
        const data = message.data as { counts: Counts; runs: Run[]; gpus: { gpus: Gpu[] } };
        this.liveCounts = data.counts;
        this.gpus = data.gpus?.gpus ?? [];
        changes.counts = changes.gpus = true;
        this.see(data.runs);
        for (const run of data.runs) {
          if (this.runs.has(run.id)) {
            this.runs.set(run.id, run);
            changes.rows.add(run.id);
          }
        }
        // The first state is the stream's start; a later one follows a gap in the stream.
        if (this.started) changes.resync = true;
        this.started = true;
        break;
      }
      case "run":
        this.upsert(message.data as Run, changes);
        break;
      case "progress": {
        const run = id == null ? undefined : this.runs.get(id);
        if (!run || id == null) break;
        const data = message.data as { metrics?: Record<string, number>; progress?: Run["progress"] };
        this.runs.set(id, {
          ...run,
          progress: data.progress ?? run.progress,
          metrics: { ...run.metrics, ...(data.metrics ?? {}) },
        });
        changes.rows.add(id);
        break;
      }
      case "counts":
        this.liveCounts = message.data as Counts;
        changes.counts = true;
        break;
      case "gpus":
        this.gpus = (message.data as { gpus: Gpu[] }).gpus ?? [];
        changes.gpus = true;
        break;
      case "deleted":
        if (id != null && this.remove(id)) changes.order = true;
        break;
      default:
        break; // "missed" is followed by a fresh "state"
    }
    return changes;
  }

  private upsert(run: Run, changes: Changes): void {
    const known = this.runs.has(run.id);
    const matches = matchesFilters(run, this.filters);
    const isNew = run.id > this.maxSeenId;
    this.see([run]);
    if (known && !matches) {
      this.remove(run.id);
      changes.order = true;
    } else if (known) {
      this.runs.set(run.id, run);
      changes.rows.add(run.id);
    } else if (matches && isNew) {
      if (NEWEST_FIRST.has(this.sort)) {
        this.runs.set(run.id, run);
        this.order.unshift(run.id);
        this.total += 1;
        changes.order = true;
      } else {
        this.pendingNew += 1;
        changes.counts = true;
      }
    }
  }

  private remove(id: number): boolean {
    if (!this.runs.delete(id)) return false;
    const at = this.order.indexOf(id);
    if (at >= 0) this.order.splice(at, 1);
    this.total = Math.max(0, this.total - 1);
    return true;
  }
}
