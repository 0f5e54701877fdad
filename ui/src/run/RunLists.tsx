// The run page's lists: its events, its statistics snapshots, its files.
import { useEffect, useState } from "react";
import { api, fileUrl, API } from "../api/client";
import type { RunEvent, RunFile, Snapshot } from "../api/types";
import { notify } from "../app/toasts";
import { Empty, ErrorBox } from "../components/bits";
import { formatBytes, formatTime } from "../lib/format";
import type { RunFeed } from "./useRunStream";

/** Re-reads `read` now and whenever the run's stream says something happened (at most
 *  once a second). */
function useLiveList<T>(read: () => Promise<T>, feed: RunFeed, deps: unknown[]): [T | null, unknown, () => void] {
  const [value, setValue] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let timer: number | undefined;
    const off = feed.lists.on(() => {
      if (timer === undefined) timer = window.setTimeout(() => { timer = undefined; setTick((t) => t + 1); }, 1000);
    });
    return () => { off(); clearTimeout(timer); };
  }, [feed]);
  useEffect(() => {
    let cancelled = false;
    read().then((v) => { if (!cancelled) { setValue(v); setError(null); } }, (e) => { if (!cancelled) setError(e); });
    return () => { cancelled = true; };
  }, [tick, ...deps]);
  return [value, error, () => setTick((t) => t + 1)];
}

function describeEvent(event: RunEvent): string {
  const d = event.data as Record<string, any>;
  switch (event.kind) {
    case "submitted": return "submitted";
    case "status": return `${d.from} → ${d.to}${d.reason ? ` (${d.reason})` : ""}${d.gpus?.length ? ` on GPU ${d.gpus.join(",")}` : ""}`;
    case "report": {
      const metrics = Object.entries(d.metrics ?? {}).map(([k, v]) => `${k} ${v}`).join(", ");
      return `epoch ${d.epoch}/${d.total_epochs}${d.step != null ? `, step ${d.step}` : ""}${d.status === "completed" ? " (completed)" : ""}${metrics ? ` — ${metrics}` : ""}`;
    }
    case "warning": return `${d.warning}: ${d.message ?? ""}${d.line ? ` (line ${d.line})` : ""}`;
    case "snapshot_saved": return `snapshot ${d.name}`;
    case "final": return `final accuracy ${d.accuracy ?? "—"}${d.accuracy_field ? ` (${d.accuracy_field})` : ""}`;
    default: return JSON.stringify(d);
  }
}

export function EventsTab({ runId, feed }: { runId: number; feed: RunFeed }) {
  const [showReports, setShowReports] = useState(false);
  const [page, error] = useLiveList(() => api.events(runId, 0, 10000), feed, [runId]);
  if (error) return <ErrorBox error={error} />;
  if (!page) return <div className="muted">Loading events…</div>;
  const events = page.events.filter((e) => showReports || e.kind !== "report");
  const reports = page.events.length - page.events.filter((e) => e.kind !== "report").length;
  return (
    <div>
      <label className="row gap pad">
        <input type="checkbox" checked={showReports} onChange={(e) => setShowReports(e.target.checked)} />
        show each report ({reports})
      </label>
      {events.length ? (
        <ul className="timeline panel" data-testid="events">
          {[...events].reverse().map((event) => (
            <li key={event.id} className={`ev-${event.kind}`}>
              <span className="muted num">{formatTime(event.time)}</span>
              <span className="ev-kind">{event.kind}{event.attempt ? <span className="muted"> · attempt {event.attempt}</span> : null}</span>
              <span>{describeEvent(event)}</span>
            </li>
          ))}
        </ul>
      ) : <Empty title="No events yet" />}
    </div>
  );
}

export function SnapshotsTab({ runId, feed, live }: { runId: number; feed: RunFeed; live: boolean }) {
  const [list, error, reload] = useLiveList(() => api.snapshots(runId), feed, [runId]);
  const [open, setOpen] = useState<{ name: string; body: unknown } | null>(null);
  const view = async (snapshot: Snapshot) => {
    try {
      setOpen({ name: snapshot.name, body: await api.snapshot(runId, snapshot.name) });
    } catch (e) {
      notify(String((e as Error).message), "error");
    }
  };
  const take = async () => {
    try {
      const made = await api.takeSnapshot(runId);
      notify(`snapshot ${made.name} written`);
      reload();
    } catch (e) {
      notify((e as Error).message, "error");
    }
  };
  if (error) return <ErrorBox error={error} />;
  if (!list) return <div className="muted">Loading snapshots…</div>;
  const snapshots = [...list.snapshots].sort((a, b) => b.mtime - a.mtime);
  return (
    <div className="grid2">
      <div>
        <div className="row gap" style={{ marginBottom: 8 }}>
          <button onClick={() => void take()} disabled={!live} title={live ? "" : "only while the run is live"}>Take a snapshot now</button>
          <span className="muted">{snapshots.length} snapshot{snapshots.length === 1 ? "" : "s"}</span>
        </div>
        {snapshots.length ? (
          <table className="list panel">
            <thead><tr><th>Name</th><th className="num">Size</th><th>Written</th><th /></tr></thead>
            <tbody>
              {snapshots.map((s) => (
                <tr key={s.name}>
                  <td><button className="linkish" onClick={() => void view(s)}>{s.name}</button></td>
                  <td className="num">{formatBytes(s.size)}</td>
                  <td className="muted">{formatTime(s.mtime)}</td>
                  <td><a href={`${API}/runs/${runId}/snapshots/${encodeURIComponent(s.name)}`} download={s.name}>download</a></td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : <Empty title="No snapshots yet">They are written after every report with validation or test metrics.</Empty>}
      </div>
      <div>
        {open ? (
          <>
            <h3>{open.name}</h3>
            <pre className="json" data-testid="snapshot-body">{JSON.stringify(open.body, null, 2)}</pre>
          </>
        ) : <div className="muted pad">Pick a snapshot to read it here.</div>}
      </div>
    </div>
  );
}

export function FilesTab({ runId, feed }: { runId: number; feed: RunFeed }) {
  const [list, error] = useLiveList(() => api.files(runId), feed, [runId]);
  if (error) return <ErrorBox error={error} />;
  if (!list) return <div className="muted">Loading files…</div>;
  const figures = list.files.filter((f) => f.path.startsWith("figures/") && f.path.endsWith(".png"));
  const files: RunFile[] = list.files;
  return (
    <div>
      {figures.length ? (
        <div className="row gap wrap" style={{ marginBottom: 12 }}>
          {figures.map((f) => (
            <a key={f.path} href={fileUrl(runId, f.path)} target="_blank" rel="noreferrer">
              <img src={`${fileUrl(runId, f.path)}?v=${Math.round(f.mtime)}`} alt={f.path} style={{ maxWidth: 420, borderRadius: 6, border: "1px solid var(--border)", background: "#fff" }} />
            </a>
          ))}
        </div>
      ) : null}
      <table className="list panel">
        <thead><tr><th>Path</th><th className="num">Size</th><th>Modified</th></tr></thead>
        <tbody>
          {files.map((f) => (
            <tr key={f.path}>
              <td><a href={fileUrl(runId, f.path)} download={f.path.replace(/\//g, "_")}>{f.path}</a></td>
              <td className="num">{formatBytes(f.size)}</td>
              <td className="muted">{formatTime(f.mtime)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
