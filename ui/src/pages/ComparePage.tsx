// Compare: runs picked in the queue (their ids in the URL) as overlaid charts, one per
// metric, and a table of their settings and results with the differences marked.
import { useEffect, useMemo, useState } from "react";
import { api, API } from "../api/client";
import type { Run } from "../api/types";
import { Link, setSearch, useLocation } from "../app/router";
import { Chart, PALETTE } from "../components/Chart";
import { Empty, ErrorBox, StatusBadge } from "../components/bits";
import { compareRows } from "../lib/compare";
import { runLabel } from "../lib/format";
import { groupMetrics } from "../lib/metricGroups";
import { fromApi, type XY } from "../lib/series";
import { decodeRunIds, encodeRunIds } from "../lib/urlState";

const POINTS = 1000;

interface Loaded {
  runs: Run[];
  series: Map<number, Map<string, XY>>;
  missing: number[];
}

export function ComparePage() {
  const { search } = useLocation();
  const ids = useMemo(() => decodeRunIds(search), [search]);
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [version, setVersion] = useState(0);
  const [smoothing, setSmoothing] = useState(0);
  const [logScale, setLogScale] = useState(false);
  const [onlyDiffs, setOnlyDiffs] = useState(false);
  const [adding, setAdding] = useState("");

  useEffect(() => {
    if (!ids.length) return;
    let cancelled = false;
    setError(null);
    (async () => {
      const results = await Promise.allSettled(ids.map(async (id) => {
        const [run, metrics] = await Promise.all([api.run(id), api.metrics(id, new URLSearchParams({ points: String(POINTS) }))]);
        return { run, series: new Map(Object.entries(metrics.series).map(([k, s]) => [k, fromApi(s)])) };
      }));
      if (cancelled) return;
      const runs: Run[] = [];
      const series = new Map<number, Map<string, XY>>();
      const missing: number[] = [];
      results.forEach((r, i) => {
        if (r.status === "fulfilled") {
          runs.push(r.value.run);
          series.set(r.value.run.id, r.value.series);
        } else missing.push(ids[i]);
      });
      setLoaded({ runs, series, missing });
      setVersion((v) => v + 1);
    })().catch((e) => !cancelled && setError(e));
    return () => { cancelled = true; };
  }, [search]);

  const setIds = (next: number[]) => setSearch(encodeRunIds(next));
  const add = () => {
    const more = adding.split(/[\s,]+/).map((t) => Number(t.replace(/^#/, ""))).filter((n) => Number.isInteger(n) && n > 0);
    if (more.length) setIds([...new Set([...ids, ...more])]);
    setAdding("");
  };
  const adder = (
    <form className="row gap" onSubmit={(e) => { e.preventDefault(); add(); }}>
      <input type="text" placeholder="run ids, e.g. 4 7" value={adding} onChange={(e) => setAdding(e.target.value)} aria-label="Add runs to compare" size={14} />
      <button type="submit">Add</button>
    </form>
  );

  if (!ids.length) {
    return (
      <div className="page">
        <h1>Compare runs</h1>
        <Empty title="No runs picked">
          Select runs in the <Link to="/">queue</Link> and press <kbd>m</kbd> (or Compare), or add their ids:
          <div className="row gap" style={{ justifyContent: "center", marginTop: 10 }}>{adder}</div>
        </Empty>
      </div>
    );
  }

  const runs = loaded?.runs ?? [];
  const colour = (i: number) => PALETTE[i % PALETTE.length];
  const keys = groupMetrics(runs.flatMap((r) => [...(loaded?.series.get(r.id)?.keys() ?? [])])).flatMap((g) => g.keys);
  const rows = compareRows(runs).filter((row) => !onlyDiffs || row.differs);
  const xLabel = runs.some((r) => r.progress.step != null) ? "step" : "epoch";

  return (
    <div className="page">
      <div className="row gap wrap" style={{ marginBottom: 10 }}>
        <h1 style={{ margin: 0 }}>Compare {ids.length} run{ids.length === 1 ? "" : "s"}</h1>
        <span className="spacer" />
        {adder}
        <a className="button" href={`${API}/exports?${ids.map((id) => `run=${id}`).join("&")}`} download="runs.csv">Export CSV</a>
      </div>
      {error ? <ErrorBox error={error} /> : null}
      {loaded?.missing.length ? <div className="warning">Not found: {loaded.missing.map((id) => `#${id}`).join(", ")}</div> : null}
      {!loaded ? <div className="muted">Reading runs…</div> : (
        <>
          <div className="row gap wrap" style={{ marginBottom: 12 }} data-testid="compare-runs">
            {runs.map((run, i) => (
              <span key={run.id} className="chip" style={{ display: "inline-flex", alignItems: "center", gap: 6 }}>
                <span className="swatch" style={{ background: colour(i) }} />
                <Link to={`/runs/${run.id}`}>{runLabel(run)}</Link>
                <StatusBadge status={run.status} />
                <button className="ghost" aria-label={`Remove run ${run.id}`} onClick={() => setIds(ids.filter((x) => x !== run.id))}>✕</button>
              </span>
            ))}
          </div>
          <div className="chart-controls">
            <label>Smoothing <input type="range" min={0} max={0.99} step={0.01} value={smoothing} onChange={(e) => setSmoothing(Number(e.target.value))} /> {smoothing.toFixed(2)}</label>
            <label><input type="checkbox" checked={logScale} onChange={(e) => setLogScale(e.target.checked)} /> log scale</label>
          </div>
          {keys.length ? (
            <div className="charts">
              {keys.map((key) => {
                const withKey = runs.map((run, i) => ({ run, i })).filter(({ run }) => loaded.series.get(run.id)?.has(key));
                return (
                  <Chart key={key} title={key} subtitle={`${withKey.length} run${withKey.length === 1 ? "" : "s"}`} version={version}
                         xLabel={xLabel} smoothing={smoothing} logScale={logScale}
                         series={withKey.map(({ run, i }) => ({ label: `#${run.id}`, color: colour(i), data: loaded.series.get(run.id)!.get(key)! }))}
                         zoomDetail={async (min, max) => Promise.all(withKey.map(async ({ run }) => {
                           const answer = await api.metrics(run.id, new URLSearchParams({ key, points: String(POINTS), x_min: String(min), x_max: String(max) }));
                           return fromApi(answer.series[key] ?? []);
                         }))} />
                );
              })}
            </div>
          ) : <Empty title="None of these runs has metrics yet" />}

          <div className="row gap" style={{ marginTop: 18 }}>
            <h2 style={{ margin: 0 }}>Settings and results</h2>
            <label className="row gap"><input type="checkbox" checked={onlyDiffs} onChange={(e) => setOnlyDiffs(e.target.checked)} /> only what differs</label>
          </div>
          <table className="list panel diff" style={{ marginTop: 8 }} data-testid="compare-table">
            <thead>
              <tr><th /> {runs.map((run, i) => <th key={run.id}><span className="swatch" style={{ background: colour(i) }} />{runLabel(run)}</th>)}</tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <tr key={row.label} className={row.differs ? "differs" : ""}>
                  <th style={{ textAlign: "left", fontWeight: 500 }}>{row.label}</th>
                  {row.values.map((value, i) => <td key={i} className={row.differs ? "differs" : ""}>{value}</td>)}
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}
