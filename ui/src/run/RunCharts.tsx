// Every metric of a run as live charts: losses together, accuracies together, any other
// key alone. The series are read downsampled (the API keeps spikes), grown by the run's
// stream, and read again in full detail for a zoomed range.
import { useEffect, useMemo, useRef, useState } from "react";
import { api } from "../api/client";
import { Chart, PALETTE } from "../components/Chart";
import { Empty, ErrorBox } from "../components/bits";
import { groupMetrics } from "../lib/metricGroups";
import { addPoint, fromApi, type XY } from "../lib/series";
import type { RunFeed } from "./useRunStream";

export const CHART_POINTS = 1200;

type MetricsAnswer = Awaited<ReturnType<typeof api.metrics>>;

/** The overview read of a run's series, as the page asks for it before the run's stream
 *  has answered (RunPage starts it, so the two requests overlap). */
export function readOverview(runId: number): Promise<MetricsAnswer> {
  return api.metrics(runId, new URLSearchParams({ points: String(CHART_POINTS) }));
}

interface Props {
  /** The first read, already under way; taken (emptied) by the first chart read. */
  first?: { current: Promise<MetricsAnswer> | undefined };
  runId: number;
  feed: RunFeed;
  /** Bumped when the run's stream restarts: the series are read again. */
  epoch: number;
  xLabel: string;
  smoothing: number;
  logScale: boolean;
  running: boolean;
}

export function RunCharts({ first, runId, feed, epoch, xLabel, smoothing, logScale, running }: Props) {
  const store = useRef(new Map<string, XY>());
  const [version, setVersion] = useState(0);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const reading = useRef<Promise<void> | null>(null);

  useEffect(() => {
    let cancelled = false;
    let held: [string, number, number | string][] = [];
    let refetchTimer: number | undefined;
    const read = async () => {
      held = [];
      const early = first?.current;
      if (first) first.current = undefined; // used once: later reads (a new state, the tab shown again) ask anew
      try {
        const answer = await (early ?? readOverview(runId));
        if (cancelled) return;
        const next = new Map<string, XY>();
        for (const [key, series] of Object.entries(answer.series)) next.set(key, fromApi(series));
        for (const [key, x, value] of held) add(next, key, x, value); // came while reading
        store.current = next;
        setError(null);
        setLoaded(true);
        setVersion((v) => v + 1);
      } catch (e) {
        if (!cancelled) setError(e);
      } finally {
        reading.current = null;
      }
    };
    reading.current = read();
    const offPoints = feed.points.on((points) => {
      if (reading.current) held.push(...points);
      for (const [key, x, value] of points) add(store.current, key, x, value);
      setVersion((v) => v + 1);
    });
    const offRefetch = feed.refetchMetrics.on(() => {
      if (refetchTimer !== undefined) return;
      refetchTimer = window.setTimeout(() => {
        refetchTimer = undefined;
        if (!reading.current) reading.current = read();
      }, 1500);
    });
    return () => {
      cancelled = true;
      offPoints();
      offRefetch();
      clearTimeout(refetchTimer);
    };
  }, [runId, feed, epoch]);

  const keys = [...store.current.keys()];
  const keysText = keys.sort().join("\n");
  const groups = useMemo(() => groupMetrics(keys), [keysText]);

  if (error) return <ErrorBox error={error} />;
  if (!loaded) return <div className="muted pad">Reading metrics…</div>;
  if (!groups.length) {
    return (
      <Empty title="No metrics yet">
        {running ? "Charts appear with the run's first report. " : "This run reported no metrics. "}
        A script reports with <code>PROGRESS: {"{json}"}</code> lines (docs/PROTOCOL.md), or in a format runyard reads.
      </Empty>
    );
  }
  return (
    <div className="charts">
      {groups.map((group) => {
        const series = group.keys.map((key, i) => ({ label: key, color: PALETTE[i % PALETTE.length], data: store.current.get(key)! }));
        const points = series.reduce((n, s) => n + s.data.xs.length, 0);
        return (
          <Chart key={group.id} title={group.title} subtitle={`${group.keys.length > 1 ? `${group.keys.length} series · ` : ""}${points.toLocaleString()} points`}
                 series={series} version={version} xLabel={xLabel} smoothing={smoothing} logScale={logScale}
                 zoomDetail={async (min, max) => {
                   const query = new URLSearchParams({ points: String(CHART_POINTS), x_min: String(min), x_max: String(max) });
                   for (const key of group.keys) query.append("key", key);
                   const answer = await api.metrics(runId, query);
                   return group.keys.map((key) => fromApi(answer.series[key] ?? []));
                 }} />
        );
      })}
    </div>
  );
}

function add(map: Map<string, XY>, key: string, x: number, value: number | string): void {
  let series = map.get(key);
  if (!series) map.set(key, (series = { xs: [], ys: [] }));
  addPoint(series, x, value);
}
