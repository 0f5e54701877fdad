// Page state kept in the URL, so that a link shows someone else the same view.
// Each page's state has a decode (from the query string, forgiving) and an encode
// (to a query string, leaving defaults out so links stay short).
import { STATUSES, type RunStatus } from "../api/types";

export interface QueueFilters {
  status: RunStatus[];
  tag: string[];
  q: string;
  sweep: string | null;
}

export interface QueueView extends QueueFilters {
  sort: string;
}

export const DEFAULT_SORT = "-id";
const SORT = /^-?(id|name|status|priority|created_at|started_at|finished_at|duration|attempts|metric:[^:]+(:(last|best|min|max))?)$/;

function list(params: URLSearchParams, name: string): string[] {
  return params.getAll(name).flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);
}

export function decodeQueueView(search: string): QueueView {
  const params = new URLSearchParams(search);
  const known = new Set<string>(STATUSES);
  const sort = params.get("sort") ?? DEFAULT_SORT;
  return {
    status: [...new Set(list(params, "status").filter((s) => known.has(s)))] as RunStatus[],
    tag: [...new Set(list(params, "tag"))],
    q: params.get("q") ?? "",
    sweep: params.get("sweep") || null,
    sort: SORT.test(sort) ? sort : DEFAULT_SORT,
  };
}

export function encodeQueueView(view: QueueView): string {
  const params = new URLSearchParams();
  if (view.status.length) params.set("status", view.status.join(","));
  for (const tag of view.tag) params.append("tag", tag);
  if (view.q) params.set("q", view.q);
  if (view.sweep) params.set("sweep", view.sweep);
  if (view.sort !== DEFAULT_SORT) params.set("sort", view.sort);
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** The API query for one page of the run list under this view. */
export function runListQuery(view: QueueView, limit: number, cursor?: string | null): URLSearchParams {
  const params = new URLSearchParams();
  for (const status of view.status) params.append("status", status);
  for (const tag of view.tag) params.append("tag", tag);
  if (view.q) params.set("q", view.q);
  if (view.sweep) params.set("sweep", view.sweep);
  params.set("sort", view.sort);
  params.set("limit", String(limit));
  if (cursor) params.set("cursor", cursor);
  return params;
}

/** Clicking a column header: ascending, then descending, then back to the default. */
export function nextSort(current: string, column: string): string {
  if (current === column) return `-${column}`;
  if (current === `-${column}`) return DEFAULT_SORT;
  return column;
}

// ---- compare ---------------------------------------------------------------------------
export function decodeRunIds(search: string): number[] {
  const ids = list(new URLSearchParams(search), "runs").map(Number).filter((n) => Number.isInteger(n) && n > 0);
  return [...new Set(ids)];
}

export function encodeRunIds(ids: number[]): string {
  return ids.length ? `?runs=${ids.join(",")}` : "";
}

// ---- one run -----------------------------------------------------------------------------
export const RUN_TABS = ["charts", "log", "events", "snapshots", "files", "spec"] as const;
export type RunTab = (typeof RUN_TABS)[number];

export interface RunView {
  tab: RunTab;
  /** The attempt whose log is shown; null: the latest. */
  attempt: number | null;
  /** Smoothing weight, 0 (none) … 0.99. */
  smooth: number;
  logScale: boolean;
}

export function decodeRunView(search: string): RunView {
  const params = new URLSearchParams(search);
  const tab = params.get("tab") as RunTab | null;
  const attempt = Number(params.get("attempt"));
  const smooth = Number(params.get("smooth"));
  return {
    tab: tab && (RUN_TABS as readonly string[]).includes(tab) ? tab : "charts",
    attempt: Number.isInteger(attempt) && attempt > 0 ? attempt : null,
    smooth: Number.isFinite(smooth) ? Math.min(0.99, Math.max(0, smooth)) : 0,
    logScale: params.get("log") === "1",
  };
}

export function encodeRunView(view: RunView): string {
  const params = new URLSearchParams();
  if (view.tab !== "charts") params.set("tab", view.tab);
  if (view.attempt != null) params.set("attempt", String(view.attempt));
  if (view.smooth > 0) params.set("smooth", String(Math.round(view.smooth * 100) / 100));
  if (view.logScale) params.set("log", "1");
  const text = params.toString();
  return text ? `?${text}` : "";
}
