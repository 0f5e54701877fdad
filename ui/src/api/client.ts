// Fetching from the daemon. The session cookie (set by the first visit with ?token=)
// authenticates every same-origin request, so nothing here handles tokens.
import { reportReachable, reportUnreachable, reportUnauthorized } from "./connection";
import type { GpuList, Run, RunEvent, RunFile, RunPage, Series, Snapshot } from "./types";

export const API = "/api/v1";

/** An answer of the API's error shape `{error, detail, field}`, or a network failure. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly kind: string,
    readonly detail: string,
    readonly field: string | null = null,
  ) {
    super(detail);
  }
}

async function request(path: string, init?: RequestInit): Promise<Response> {
  let answer: Response;
  try {
    answer = await fetch(API + path, { credentials: "same-origin", ...init });
  } catch (error) {
    reportUnreachable();
    throw new ApiError(0, "unreachable", "the runyard daemon is not reachable");
  }
  reportReachable();
  if (answer.ok) return answer;
  let body: { error?: string; detail?: unknown; field?: string | null } = {};
  try {
    body = await answer.json();
  } catch {
    /* not the JSON error shape: keep the status */
  }
  if (answer.status === 401) reportUnauthorized();
  const detail = typeof body.detail === "string" ? body.detail : `${answer.status} ${answer.statusText}`;
  throw new ApiError(answer.status, body.error ?? "http_error", detail, body.field ?? null);
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return (await request(path, { signal })).json() as Promise<T>;
}

// Sent with every request that changes something: the daemon refuses those that only the
// session cookie authenticates unless they carry it, and a form on another page of the same
// host cannot (docs/API.md, "Security model").
export const OWN_PAGE = { "X-Runyard-Request": "1" };

export async function postJson<T>(path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method: "POST", headers: OWN_PAGE };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { ...OWN_PAGE, "content-type": "application/json" };
  }
  return (await request(path, init)).json() as Promise<T>;
}

export async function deleteJson<T>(path: string): Promise<T> {
  return (await request(path, { method: "DELETE", headers: OWN_PAGE })).json() as Promise<T>;
}

export interface LogChunk {
  bytes: Uint8Array;
  attempt: number;
  nextOffset: number;
  finished: boolean;
}

/** Raw bytes of an attempt's output, from `offset`, at most `limit` of them. */
export async function readLog(runId: number, attempt: number | null, offset: number, limit: number, signal?: AbortSignal): Promise<LogChunk> {
  const params = new URLSearchParams({ offset: String(offset), limit: String(limit) });
  if (attempt != null) params.set("attempt", String(attempt));
  const answer = await request(`/runs/${runId}/log?${params}`, { signal });
  const bytes = new Uint8Array(await answer.arrayBuffer());
  return {
    bytes,
    attempt: Number(answer.headers.get("X-Runyard-Attempt") ?? attempt ?? 1),
    nextOffset: Number(answer.headers.get("X-Runyard-Next-Offset") ?? offset + bytes.length),
    finished: answer.headers.get("X-Runyard-Attempt-Finished") === "1",
  };
}

export const api = {
  runs: (query: URLSearchParams, signal?: AbortSignal) => getJson<RunPage>(`/runs?${query}`, signal),
  run: (id: number, signal?: AbortSignal) => getJson<Run>(`/runs/${id}`, signal),
  act: (id: number, action: "cancel" | "retry" | "pause" | "resume") => postJson<Run>(`/runs/${id}/${action}`),
  remove: (id: number) => deleteJson<{ id: number }>(`/runs/${id}`),
  submit: (spec: unknown) => postJson<Run>("/runs", spec),
  metrics: (id: number, query: URLSearchParams, signal?: AbortSignal) =>
    getJson<{ series: Record<string, Series>; downsampled?: boolean }>(`/runs/${id}/metrics?${query}`, signal),
  events: (id: number, after = 0, limit = 1000) =>
    getJson<{ events: RunEvent[] }>(`/runs/${id}/events?after=${after}&limit=${limit}`),
  snapshots: (id: number) => getJson<{ snapshots: Snapshot[] }>(`/runs/${id}/snapshots`),
  takeSnapshot: (id: number) => postJson<{ name: string }>(`/runs/${id}/snapshots`),
  snapshot: (id: number, name: string) => getJson<unknown>(`/runs/${id}/snapshots/${encodeURIComponent(name)}`),
  files: (id: number) => getJson<{ files: RunFile[] }>(`/runs/${id}/files`),
  reingest: (id: number) => postJson<unknown>(`/runs/${id}/reingest`),
  gpus: (history: boolean) => getJson<GpuList>(`/gpus${history ? "?history=true" : ""}`),
  health: () => getJson<{ status: string; version: string }>("/health"),
};

/** A URL of a run's file for a link (downloads go through the browser, cookie and all). */
export function fileUrl(runId: number, path: string): string {
  return `${API}/runs/${runId}/files/${path.split("/").map(encodeURIComponent).join("/")}`;
}
