// GPUs: one card per GPU with its memory (runyard's runs and outside processes apart)
// and utilization, who holds it, and its last minutes. Live over the queue stream.
import { useEffect, useMemo, useState } from "react";
import { api } from "../api/client";
import { openSocket } from "../api/socket";
import type { Gpu, Run } from "../api/types";
import { Link } from "../app/router";
import { Empty, ErrorBox, Meter } from "../components/bits";
import { formatMib } from "../lib/format";

type History = [number, number, number | null][];
const KEEP_S = 30 * 60;

export function GpusPage() {
  const [gpus, setGpus] = useState<Gpu[] | null>(null);
  const [source, setSource] = useState("");
  const [history, setHistory] = useState<Map<number, History>>(new Map());
  const [names, setNames] = useState<Map<number, string | null>>(new Map());
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    let cancelled = false;
    const record = (list: Gpu[], at: number) => {
      setHistory((previous) => {
        const next = new Map(previous);
        for (const gpu of list) {
          const past = (next.get(gpu.index) ?? []).filter(([t]) => t >= at - KEEP_S);
          next.set(gpu.index, [...past, [at, gpu.used_mib, gpu.utilization]]);
        }
        return next;
      });
    };
    api.gpus(true).then((answer) => {
      if (cancelled) return;
      setGpus(answer.gpus);
      setSource(answer.source);
      setHistory(new Map(answer.gpus.map((g) => [g.index, g.history ?? []])));
    }, (e) => !cancelled && setError(e));
    const socket = openSocket("/ws", {
      onMessage(message) {
        if (message.kind === "gpus") {
          setGpus(message.data.gpus);
          record(message.data.gpus, message.time);
        } else if (message.kind === "state") {
          setGpus(message.data.gpus.gpus);
          setNames(new Map((message.data.runs as Run[]).map((r) => [r.id, r.name])));
        } else if (message.kind === "run") {
          const run = message.data as Run;
          setNames((m) => new Map(m).set(run.id, run.name));
        }
      },
    }, () => true);
    return () => { cancelled = true; socket.close(); };
  }, []);

  if (error) return <div className="page"><ErrorBox error={error} /></div>;
  if (!gpus) return <div className="page muted">Reading the GPUs…</div>;
  return (
    <div className="page">
      <div className="row gap">
        <h1 style={{ margin: 0 }}>GPUs</h1>
        <span className="muted">{gpus.length} seen{source ? ` · from ${source === "declared" ? "a declared inventory (RUNYARD_GPU_INVENTORY)" : source}` : ""}</span>
      </div>
      {gpus.length === 0 ? (
        <Empty title="runyard sees no GPU">Runs that ask for no GPU (<code>--gpus 0</code>) still run. Without NVML, declare GPUs with <code>RUNYARD_GPU_INVENTORY</code>.</Empty>
      ) : (
        <div className="gpu-cards" style={{ marginTop: 12 }}>
          {gpus.map((gpu) => <GpuCard key={gpu.index} gpu={gpu} history={history.get(gpu.index) ?? []} names={names} />)}
        </div>
      )}
    </div>
  );
}

function GpuCard({ gpu, history, names }: { gpu: Gpu; history: History; names: Map<number, string | null> }) {
  const ours = Math.max(0, gpu.used_mib - gpu.external_mib);
  return (
    <div className="panel gpu-card" data-testid={`gpu-${gpu.index}`}>
      <h3>
        GPU {gpu.index}
        <span className="muted" style={{ fontWeight: 400 }}>{gpu.name ?? ""}</span>
        <span className="spacer" />
        {gpu.external_busy ? <span className="badge status-waiting" title="processes outside runyard use it: runyard does not start runs here">busy outside runyard</span>
          : gpu.runs.length ? <span className="badge status-running">in use</span> : <span className="badge status-completed">free</span>}
      </h3>
      <div className="gpu-line">
        <span>Memory</span>
        <Meter max={gpu.memory_mib} label={`memory of GPU ${gpu.index}`} segments={[
          { value: ours, className: "meter-run", title: `runyard's runs: ${formatMib(ours)}` },
          { value: gpu.external_mib, className: "meter-external", title: `outside processes: ${formatMib(gpu.external_mib)}` },
        ]} />
        <span className="num">{formatMib(gpu.used_mib)} / {formatMib(gpu.memory_mib)}</span>
      </div>
      <div className="gpu-line">
        <span>Utilization</span>
        {gpu.utilization != null ? <Meter value={gpu.utilization} max={100} label={`utilization of GPU ${gpu.index}`} /> : <span className="muted">not reported</span>}
        <span className="num">{gpu.utilization != null ? `${gpu.utilization}%` : ""}</span>
      </div>
      <div className="gpu-line" style={{ alignItems: "start" }}>
        <span>Held by</span>
        <div style={{ gridColumn: "2 / 4" }}>
          {gpu.runs.length === 0 && gpu.processes.length === 0 ? <span className="muted">nothing</span> : null}
          {gpu.runs.map((r) => (
            <div key={r.run_id}>
              <Link to={`/runs/${r.run_id}`}>#{r.run_id}{names.get(r.run_id) ? ` ${names.get(r.run_id)}` : ""}</Link>
              {r.mem_mib ? <span className="muted"> · asked {formatMib(r.mem_mib)}</span> : null}
            </div>
          ))}
          {gpu.processes.filter((p) => p.run_id == null).map((p) => (
            <div key={p.pid} className="muted">pid {p.pid} (outside runyard) · {formatMib(p.used_mib)}</div>
          ))}
        </div>
      </div>
      <Sparkline history={history} total={gpu.memory_mib} />
    </div>
  );
}

/** Memory used and utilization over the last minutes, as percent of the card. */
function Sparkline({ history, total }: { history: History; total: number }) {
  const [now, setNow] = useState(Date.now() / 1000);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now() / 1000), 5000);
    return () => clearInterval(timer);
  }, []);
  const paths = useMemo(() => {
    if (!history.length) return null;
    const start = Math.min(history[0][0], now - 60);
    const span = Math.max(1, now - start);
    const x = (t: number) => ((t - start) / span) * 100;
    const y = (pct: number) => 38 - (Math.min(100, Math.max(0, pct)) / 100) * 36;
    const step = (values: [number, number | null][]) => {
      const points: string[] = [];
      let last: number | null = null;
      for (const [t, v] of values) {
        if (v == null) continue;
        if (last != null) points.push(`${x(t).toFixed(2)},${y(last).toFixed(2)}`);
        points.push(`${x(t).toFixed(2)},${y(v).toFixed(2)}`);
        last = v;
      }
      if (last != null) points.push(`100,${y(last).toFixed(2)}`);
      return points.join(" ");
    };
    return {
      memory: step(history.map(([t, used]) => [t, total ? (used / total) * 100 : 0])),
      util: step(history.map(([t, , u]) => [t, u])),
      minutes: Math.round(span / 60),
    };
  }, [history, now, total]);
  if (!paths) return <div className="muted" style={{ fontSize: 12 }}>no history yet</div>;
  return (
    <div>
      <svg className="spark" viewBox="0 0 100 40" preserveAspectRatio="none" role="img" aria-label="memory and utilization history">
        <line x1="0" x2="100" y1="38" y2="38" stroke="var(--border)" strokeWidth="0.5" vectorEffect="non-scaling-stroke" />
        <polyline points={paths.memory} fill="none" stroke="var(--accent)" strokeWidth="1.5" vectorEffect="non-scaling-stroke" />
        {paths.util ? <polyline points={paths.util} fill="none" stroke="var(--s-completed)" strokeWidth="1.5" vectorEffect="non-scaling-stroke" /> : null}
      </svg>
      <div className="muted" style={{ fontSize: 12 }}>
        last {paths.minutes || 1} min
        <span className="legend-dot" style={{ background: "var(--accent)" }} />memory
        <span className="legend-dot" style={{ background: "var(--s-completed)" }} />utilization
      </div>
    </div>
  );
}
