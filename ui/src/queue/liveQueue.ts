// The queue page's data: the first page of runs from the API, then the queue stream's
// messages applied in place. Messages are batched per animation frame; each batch is
// applied to the model and only the rows it changed are told to re-render, synchronously
// (flushSync), so the work of one live update is measured and bounded.
import { flushSync } from "react-dom";
import { useSyncExternalStore } from "react";
import { api } from "../api/client";
import { openSocket, type LiveSocket } from "../api/socket";
import type { Counts, Gpu, Run, StreamMessage } from "../api/types";
import { QueueModel, noChanges } from "../lib/queueModel";
import { runListQuery, type QueueView } from "../lib/urlState";

export const FIRST_PAGE = 100;
export const NEXT_PAGE = 500;

export interface QueueMeta {
  order: number[];
  total: number;
  counts: Counts;
  liveCounts: Counts;
  gpus: Gpu[];
  pendingNew: number;
  loading: boolean;
  loadingMore: boolean;
  hasMore: boolean;
  error: unknown;
}

/** Figures of each applied batch, for the benchmark (window.__runyard.queue). */
export interface UpdateStat {
  messages: number;
  parseMs: number;
  /** From the first message's arrival to the rows being in the DOM. */
  latencyMs: number;
  /** Applying the batch and rendering the changed rows. */
  applyMs: number;
}

export class LiveQueue {
  readonly model: QueueModel;
  stats: UpdateStat[] = [];
  firstRenderAt: number | null = null;
  private meta: QueueMeta;
  private socket: LiveSocket | null = null;
  private pending: { message: StreamMessage; receivedAt: number; parseMs: number }[] = [];
  private frame = 0;
  private rowListeners = new Map<number, Set<() => void>>();
  private metaListeners = new Set<() => void>();
  private cursor: string | null = null;
  private restCounts: Counts = {};
  private abort = new AbortController();
  private countsTimer: number | undefined;

  constructor(readonly view: QueueView) {
    this.model = new QueueModel(view, view.sort);
    this.meta = this.snapshot({ loading: true });
  }

  start(): void {
    this.socket = openSocket("/ws", {
      onMessage: (message, receivedAt, parseMs) => {
        this.pending.push({ message, receivedAt, parseMs });
        this.schedule();
      },
    }, () => true);
    void this.load();
  }

  stop(): void {
    this.socket?.close();
    this.abort.abort();
    cancelAnimationFrame(this.frame);
    clearTimeout(this.countsTimer);
  }

  async load(): Promise<void> {
    this.setMeta({ loading: true, error: null });
    try {
      const page = await api.runs(runListQuery(this.view, FIRST_PAGE), this.abort.signal);
      this.model.load(page.runs, page.total);
      this.cursor = page.next_cursor;
      this.restCounts = page.counts;
      this.flush(); // stream messages that came while the page was read
      this.setMeta({ loading: false, error: null });
    } catch (error) {
      if (this.abort.signal.aborted) return;
      this.setMeta({ loading: false, error });
    }
  }

  async loadMore(): Promise<void> {
    if (!this.cursor || this.meta.loadingMore) return;
    this.setMeta({ loadingMore: true });
    try {
      const page = await api.runs(runListQuery(this.view, NEXT_PAGE, this.cursor), this.abort.signal);
      this.model.append(page.runs, page.total);
      this.cursor = page.next_cursor;
      this.setMeta({ loadingMore: false });
    } catch (error) {
      if (!this.abort.signal.aborted) this.setMeta({ loadingMore: false, error });
    }
  }

  private schedule(): void {
    if (this.frame || this.meta.loading) return;
    // A hidden tab gets no animation frames: past a backlog, apply on a timer instead.
    if (this.pending.length > 2000) {
      this.frame = window.setTimeout(() => this.flush(), 0) as unknown as number;
      return;
    }
    this.frame = requestAnimationFrame(() => this.flush());
  }

  private flush(): void {
    this.frame = 0;
    if (!this.pending.length) return;
    const start = performance.now();
    const batch = this.pending;
    this.pending = [];
    const changes = noChanges();
    for (const item of batch) this.model.apply(item.message, changes);
    const filtered = this.view.tag.length > 0 || Boolean(this.view.q) || Boolean(this.view.sweep);
    flushSync(() => {
      for (const id of changes.rows) this.rowListeners.get(id)?.forEach((listener) => listener());
      if (changes.order || changes.counts || changes.gpus) this.setMeta({}, changes.order);
    });
    const end = performance.now();
    this.stats.push({
      messages: batch.length,
      parseMs: batch.reduce((sum, item) => sum + item.parseMs, 0),
      latencyMs: end - batch[0].receivedAt,
      applyMs: end - start,
    });
    if (this.stats.length > 1000) this.stats.splice(0, 500);
    if (changes.resync) void this.load();
    else if (changes.counts && filtered) this.refreshCounts();
  }

  /** Counts under tag/text filters come from the API (the stream's are for every run). */
  private refreshCounts(): void {
    clearTimeout(this.countsTimer);
    this.countsTimer = window.setTimeout(async () => {
      try {
        const page = await api.runs(runListQuery({ ...this.view, status: [] }, 1), this.abort.signal);
        this.restCounts = page.counts;
        this.setMeta({});
      } catch {
        /* the banner says why */
      }
    }, 500);
  }

  private snapshot(patch: Partial<QueueMeta>, orderChanged = true): QueueMeta {
    const previous = this.meta;
    const filtered = this.view.tag.length > 0 || Boolean(this.view.q) || Boolean(this.view.sweep);
    const live = Object.keys(this.model.liveCounts).length > 0;
    const base: Pick<QueueMeta, "loading" | "loadingMore" | "error"> = previous ?? { loading: false, loadingMore: false, error: null };
    return {
      ...base,
      ...patch,
      order: orderChanged || !previous ? [...this.model.order] : previous.order,
      total: this.model.total,
      counts: !filtered && live ? this.model.liveCounts : this.restCounts,
      liveCounts: this.model.liveCounts,
      gpus: this.model.gpus,
      pendingNew: this.model.pendingNew,
      hasMore: this.cursor != null,
    };
  }

  private setMeta(patch: Partial<QueueMeta>, orderChanged = true): void {
    if (this.firstRenderAt == null && patch.loading === false) this.firstRenderAt = performance.now();
    this.meta = this.snapshot(patch, orderChanged);
    this.metaListeners.forEach((listener) => listener());
  }

  getMeta = (): QueueMeta => this.meta;

  subscribeMeta = (listener: () => void): (() => void) => {
    this.metaListeners.add(listener);
    return () => this.metaListeners.delete(listener);
  };

  subscribeRow(id: number, listener: () => void): () => void {
    let set = this.rowListeners.get(id);
    if (!set) this.rowListeners.set(id, (set = new Set()));
    set.add(listener);
    return () => {
      set!.delete(listener);
      if (!set!.size) this.rowListeners.delete(id);
    };
  }

  run(id: number): Run | undefined {
    return this.model.runs.get(id);
  }
}

export function useQueueMeta(queue: LiveQueue): QueueMeta {
  return useSyncExternalStore(queue.subscribeMeta, queue.getMeta);
}

export function useQueueRun(queue: LiveQueue, id: number): Run | undefined {
  return useSyncExternalStore(
    (listener) => queue.subscribeRow(id, listener),
    () => queue.run(id),
  );
}
