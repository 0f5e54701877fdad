// One run: its header and controls, progress and results, attempts, and tabs for live
// charts, the log, events, snapshots, files and the spec. Live over the run's stream.
import { useMemo, type ReactNode } from "react";
import { api, API, type ApiError } from "../api/client";
import { FINISHED, type Run } from "../api/types";
import { Link, navigate, setSearch, useLocation } from "../app/router";
import { useShortcuts } from "../app/shortcuts";
import { notify } from "../app/toasts";
import { Elapsed, Empty, ProgressBar, StatusBadge, Tags } from "../components/bits";
import { confirmAction } from "../components/Confirm";
import { formatDuration, formatMetric, formatMib, formatTime } from "../lib/format";
import { decodeRunView, encodeRunView, RUN_TABS, type RunTab, type RunView } from "../lib/urlState";
import { LogViewer } from "../run/LogViewer";
import { readOverview, RunCharts } from "../run/RunCharts";
import { EventsTab, FilesTab, SnapshotsTab } from "../run/RunLists";
import { useRunStream } from "../run/useRunStream";

const TAB_LABELS: Record<RunTab, string> = {
  charts: "Charts", log: "Log", events: "Events", snapshots: "Snapshots", files: "Files", spec: "Spec",
};

type Action = "cancel" | "retry" | "pause" | "resume";

export function RunPage({ id }: { id: number }) {
  const { search } = useLocation();
  const view = useMemo(() => decodeRunView(search), [search]);
  const [state, feed] = useRunStream(id);
  // The charts' first read starts with the page, beside the stream (not after its state).
  const firstMetrics = useMemo(() => {
    if (decodeRunView(location.search).tab !== "charts") return { current: undefined };
    const read = readOverview(id);
    read.catch(() => undefined); // RunCharts reports a failure; nothing is left unhandled
    return { current: read as Promise<Awaited<typeof read>> | undefined };
  }, [id]);
  const run = state.run;
  const setView = (patch: Partial<RunView>) => setSearch(encodeRunView({ ...view, ...patch }));

  const act = async (action: Action) => {
    if (!run) return;
    if (action === "cancel" && !(await confirmAction(`Cancel run #${run.id}? A running attempt is stopped.`, "Cancel run"))) return;
    try {
      await api.act(run.id, action);
      notify(`run #${run.id}: ${action} asked`);
    } catch (error) {
      notify((error as ApiError).detail ?? String(error), "error");
    }
  };
  const remove = async () => {
    if (!run || !(await confirmAction(`Delete run #${run.id} with its metrics, events and folder? This cannot be undone.`, "Delete run"))) return;
    try {
      await api.remove(run.id);
      notify(`run #${run.id} deleted`);
      navigate("/");
    } catch (error) {
      notify((error as ApiError).detail ?? String(error), "error");
    }
  };

  const status = run?.status;
  const can: Record<Action, boolean> = {
    cancel: status != null && !FINISHED.has(status),
    retry: status != null && FINISHED.has(status),
    pause: status === "running",
    resume: status === "paused",
  };
  useShortcuts([
    { keys: "c", description: "cancel this run", run: () => can.cancel && void act("cancel") },
    { keys: "r", description: "retry this run", run: () => can.retry && void act("retry") },
    { keys: "p", description: "pause / resume this run", run: () => (can.pause ? void act("pause") : can.resume && void act("resume")) },
    ...RUN_TABS.map((tab, i) => ({ keys: String(i + 1), description: `${TAB_LABELS[tab]} tab`, run: () => setView({ tab }) })),
  ]);

  if (state.error) {
    return <div className="page"><Empty title={`No run #${id}`}>{state.error}. <Link to="/">Back to the queue</Link></Empty></div>;
  }
  if (!run) return <div className="page muted">Loading run #{id}…</div>;

  const xLabel = run.progress.step != null ? "step" : "epoch";
  const live = !FINISHED.has(run.status);
  return (
    <div className="page run-page">
      <div className="run-head">
        <div style={{ flex: 1, minWidth: 0 }}>
          <div className="run-title">
            <span className="muted" style={{ fontSize: 20 }}>#{run.id}</span>
            <h1 data-testid="run-name">{run.name || run.display_command}</h1>
            <StatusBadge status={run.status} />
            {run.reason ? <span className="muted">{run.reason}{run.exit_code != null ? `, exit code ${run.exit_code}` : ""}{run.signal != null ? `, signal ${run.signal}` : ""}</span> : null}
          </div>
          {run.waiting_for ? <div className="muted">waiting: {run.waiting_for}</div> : null}
        </div>
        <div className="controls">
          <button onClick={() => void act("cancel")} disabled={!can.cancel} className="danger">Cancel <kbd>c</kbd></button>
          <button onClick={() => void act("retry")} disabled={!can.retry}>Retry <kbd>r</kbd></button>
          {can.resume
            ? <button onClick={() => void act("resume")}>Resume <kbd>p</kbd></button>
            : <button onClick={() => void act("pause")} disabled={!can.pause}>Pause <kbd>p</kbd></button>}
          <Link to={`/submit?like=${run.id}`} className="button">Submit like this</Link>
          <Link to={`/compare?runs=${run.id}`} className="button">Compare…</Link>
          <button onClick={() => void remove()} disabled={live} className="ghost danger" title={live ? "only a finished run can be deleted" : ""}>Delete</button>
        </div>
      </div>

      <div className="grid2">
        <div className="panel panel-body">
          <table className="kv">
            <tbody>
              <Row label="Command"><code data-testid="run-command">{run.display_command}</code>{run.shell ? <span className="muted"> (shell)</span> : null}</Row>
              <Row label="Workdir"><code>{run.workdir}</code></Row>
              <Row label="GPUs">
                {gpuSummary(run)}
                <span className="muted"> · priority {run.priority} · retries {run.retries} on {run.retry_on}{run.timeout_s ? ` · timeout ${formatDuration(run.timeout_s)}` : ""}</span>
              </Row>
              {run.attempts.length === 1 ? (
                <Row label="Attempt">
                  <span data-testid="attempts">1 · {run.attempts[0].status}
                    {run.attempts[0].exit_code != null ? ` · exit code ${run.attempts[0].exit_code}` : ""}
                    {run.attempts[0].signal != null ? ` · signal ${run.attempts[0].signal}` : ""}
                    {run.attempts[0].reason ? ` · ${run.attempts[0].reason}` : ""}</span>
                </Row>
              ) : null}
              <Row label="Times">
                created {formatTime(run.created_at)}
                {run.started_at ? <> · started {formatTime(run.started_at)}</> : null}
                {run.finished_at ? <> · finished {formatTime(run.finished_at)}</> : null}
                {run.started_at ? <> · <b><Elapsed from={run.started_at} to={run.finished_at} /></b></> : null}
              </Row>
              <Row label="Tags">
                <Tags tags={run.tags} />{run.sweep ? <span className="muted"> sweep {run.sweep}</span> : null}
                {!run.tags.length && !run.sweep ? <span className="muted">none · </span> : <span className="muted"> · </span>}
                <span className="muted">export </span>
                <a href={`${API}/runs/${run.id}/export`} download={`run-${run.id}.csv`}>CSV</a>{" · "}
                <a href={`${API}/runs/${run.id}/export?format=json`} download={`run-${run.id}.json`}>JSON</a>
              </Row>
              {run.after.length || run.after_any.length ? (
                <Row label="After">
                  {[...run.after.map((d) => ["after", d] as const), ...run.after_any.map((d) => ["after any", d] as const)].map(([kind, dep]) => (
                    <span key={`${kind}${dep}`}><Link to={`/runs/${dep}`}>#{dep}</Link> <span className="muted">({kind})</span> </span>
                  ))}
                </Row>
              ) : null}
            </tbody>
          </table>
        </div>
        <div className="panel panel-body">
          <table className="kv">
            <tbody>
              <Row label="Progress">
                <div style={{ maxWidth: 360 }}><ProgressBar progress={run.progress} status={run.status} /></div>
                <span className="muted">
                {run.progress.epoch != null ? `epoch ${run.progress.epoch}/${run.progress.total_epochs ?? "?"}` : "—"}
                {run.progress.step != null ? ` · step ${run.progress.step.toLocaleString()}` : ""}
                {run.progress.seconds_per_epoch != null ? ` · ${formatDuration(run.progress.seconds_per_epoch)}/epoch` : ""}
                </span>
              </Row>
              <Row label="Final">
                {run.final.accuracy != null ? (
                  <span data-testid="final-accuracy"><b>{formatMetric(run.final.accuracy)}%</b> <span className="muted">from {run.final.accuracy_field}</span></span>
                ) : <span className="muted">{live ? "when the run completes" : "no final accuracy"}</span>}
                {(["train_loss", "val_loss", "test_loss"] as const).filter((k) => run.final[k] != null).map((k) => (
                  <span key={k} className="muted"> · {k} <span style={{ color: "var(--text)" }}>{formatMetric(run.final[k])}</span></span>
                ))}
              </Row>
              <Row label="Latest">
                <span className="row wrap" style={{ gap: "2px 12px" }}>
                  {Object.keys(run.metrics).length ? Object.entries(run.metrics).sort().map(([k, v]) => (
                    <span key={k}><span className="muted">{k}</span> {formatMetric(v)}</span>
                  )) : <span className="muted">—</span>}
                </span>
              </Row>
              {Object.keys(run.info).length ? (
                <Row label="Info">
                  {Object.entries(run.info).map(([k, v]) => <span key={k}><span className="muted">{k}</span> {String(v)} </span>)}
                </Row>
              ) : null}
            </tbody>
          </table>
        </div>
      </div>

      {run.warnings.length ? (
        <div style={{ marginTop: 12 }} data-testid="warnings">
          {run.warnings.map((w) => (
            <div key={w.kind} className="warning">
              <b>{w.kind}</b>{w.message ? `: ${w.message}` : ""}{w.line ? ` (line ${w.line}${w.attempt ? `, attempt ${w.attempt}` : ""})` : ""}
              {w.text ? <div><code>{w.text.slice(0, 300)}</code></div> : null}
            </div>
          ))}
        </div>
      ) : null}

      {run.attempts.length > 1 ? (
        <>
          <h2>Attempts</h2>
          <table className="list panel" data-testid="attempts">
            <thead><tr><th>#</th><th>Status</th><th>GPUs</th><th>Started</th><th className="num">Duration</th><th className="num">Exit code</th><th>Reason</th><th /></tr></thead>
            <tbody>
              {run.attempts.map((a) => (
                <tr key={a.number}>
                  <td>{a.number}</td>
                  <td><StatusBadge status={a.status} /></td>
                  <td>{a.gpus.length ? a.gpus.join(",") : <span className="muted">CPU</span>}</td>
                  <td className="muted">{formatTime(a.started_at)}</td>
                  <td className="num"><Elapsed from={a.started_at} to={a.finished_at} /></td>
                  <td className="num">{a.exit_code ?? (a.signal != null ? `signal ${a.signal}` : "—")}</td>
                  <td>{a.reason ?? ""}</td>
                  <td><button className="linkish" onClick={() => setView({ tab: "log", attempt: a.number })}>log</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}

      <div className="tabs" role="tablist">
        {RUN_TABS.map((tab, i) => (
          <button key={tab} role="tab" className="tab" aria-selected={view.tab === tab} onClick={() => setView({ tab })}
                  title={`${TAB_LABELS[tab]} (${i + 1})`}>{TAB_LABELS[tab]}</button>
        ))}
      </div>

      {view.tab === "charts" ? (
        <>
          <div className="chart-controls">
            <label>
              Smoothing
              <input type="range" min={0} max={0.99} step={0.01} value={view.smooth} aria-label="Smoothing"
                     onChange={(e) => setView({ smooth: Number(e.target.value) })} />
              <span className="num" style={{ width: 32 }}>{view.smooth.toFixed(2)}</span>
            </label>
            <label><input type="checkbox" checked={view.logScale} onChange={(e) => setView({ logScale: e.target.checked })} /> log scale</label>
            <span className="muted">x = {xLabel} · drag across a chart to zoom in (full detail), double-click to zoom out</span>
          </div>
          <RunCharts first={firstMetrics} runId={run.id} feed={feed} epoch={state.epoch} xLabel={xLabel} smoothing={view.smooth} logScale={view.logScale} running={live} />
        </>
      ) : null}
      {view.tab === "log" ? <LogViewer run={run} attempt={view.attempt} feed={feed} onAttempt={(attempt) => setView({ attempt })} /> : null}
      {view.tab === "events" ? <EventsTab runId={run.id} feed={feed} /> : null}
      {view.tab === "snapshots" ? <SnapshotsTab runId={run.id} feed={feed} live={live} /> : null}
      {view.tab === "files" ? <FilesTab runId={run.id} feed={feed} /> : null}
      {view.tab === "spec" ? <pre className="json" data-testid="spec">{JSON.stringify(run.spec, null, 2)}</pre> : null}
    </div>
  );
}

function Row({ label, children }: { label: string; children: ReactNode }) {
  return <tr><th>{label}</th><td>{children}</td></tr>;
}

function gpuSummary(run: Run): ReactNode {
  const asked = run.gpu_ids ? `pinned to ${run.gpu_ids.join(",")}`
    : run.gpus_min == null ? "default" : run.gpus_min === 0 ? "none (CPU run)"
    : run.gpus_min === run.gpus_max ? `${run.gpus_min}` : `${run.gpus_min}–${run.gpus_max}`;
  return (
    <>
      {run.gpus.length ? <b>{run.gpus.map((g) => `GPU ${g}`).join(", ")}</b> : null}
      <span className="muted">{run.gpus.length ? " · asked " : "asked "}{asked}{run.gpu_mem_mib ? `, ${formatMib(run.gpu_mem_mib)} each` : ""}</span>
    </>
  );
}
