// One chart (uPlot: canvas, fast at a million points): several series over one x axis,
// values under the cursor in the legend, drag to zoom (with full detail read for the
// range when the caller can), double-click to zoom out, smoothing and a log scale.
import { useEffect, useMemo, useRef, useState } from "react";
import uPlot from "uplot";
import { cssVar, theme } from "../app/theme";
import { formatMetric } from "../lib/format";
import { alignSeries, type XY } from "../lib/series";
import { smooth } from "../lib/smoothing";
import { useStore } from "../lib/store";

/** Tick spacings of the x axis: steps and epochs are whole numbers. */
const WHOLE_STEPS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 2.5e3, 5e3, 1e4, 2e4, 2.5e4, 5e4, 1e5, 2e5, 2.5e5, 5e5, 1e6, 2e6, 5e6, 1e7, 1e8, 1e9];

export const PALETTE = ["#2f6fde", "#e8590c", "#2b8a3e", "#c2255c", "#7048e8", "#0c8599", "#e67700", "#5c940d", "#862e9c", "#495057"];

export interface ChartSeries {
  label: string;
  color: string;
  data: XY;
}

interface ChartProps {
  title: string;
  subtitle?: string;
  series: ChartSeries[];
  /** Bumped whenever a series' data grew (the arrays are changed in place). */
  version: number;
  xLabel: string;
  smoothing: number;
  logScale: boolean;
  height?: number;
  /** Full detail for an x range (the API's x_min/x_max), in the order of `series`. */
  zoomDetail?(min: number, max: number): Promise<XY[]>;
}

function sparse(data: XY): boolean {
  let count = 0;
  for (const y of data.ys) if (y != null && ++count > 40) return false;
  return true;
}

export function Chart({ title, subtitle, series, version, xLabel, smoothing, logScale, height = 230, zoomDetail }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const [zoom, setZoom] = useState<{ min: number; max: number; data: XY[] | null } | null>(null);
  const [loadingDetail, setLoadingDetail] = useState(false);
  const currentTheme = useStore(theme);
  const smoothed = smoothing > 0;
  const shape = useMemo(() => series.map((s) => `${s.label}\u0000${s.color}`).join("\u0001"), [series]);
  const zoomRef = useRef(zoomDetail);
  zoomRef.current = zoomDetail;

  const data = useMemo(() => {
    const source = zoom?.data ?? series.map((s) => s.data);
    const [xs, ...columns] = alignSeries(source);
    const shown = columns.map((ys) => (logScale ? ys.map((y) => (y != null && y > 0 ? y : null)) : ys));
    if (!smoothed) return [xs, ...shown] as uPlot.AlignedData;
    return [xs, ...shown.map((ys) => smooth(ys, smoothing)), ...shown] as uPlot.AlignedData;
  }, [version, zoom, smoothing, logScale, shape]);

  // (Re)built when what it draws changes shape; data changes go through setData below.
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const axis = cssVar("--chart-axis");
    const grid = cssVar("--chart-grid");
    const lines: uPlot.Series[] = series.map((s) => ({
      label: s.label, stroke: s.color, width: 1.6, spanGaps: true,
      // A series of a few points (an early run, an epoch-level metric) shows its points.
      points: { show: sparse(s.data), size: 5, fill: s.color },
      value: (_u: uPlot, v: number | null) => (v == null ? "—" : formatMetric(v)),
    }));
    const raw: uPlot.Series[] = smoothed
      ? series.map((s) => ({ label: `${s.label} (raw)`, stroke: `${s.color}55`, width: 1, spanGaps: true, points: { show: false } }))
      : [];
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height,
      scales: { x: { time: false }, y: logScale ? { distr: 3, log: 10 } : {} },
      axes: [
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, label: xLabel, incrs: WHOLE_STEPS, labelSize: 18, labelGap: 0, font: "11px system-ui", labelFont: "11px system-ui" },
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, size: 58, font: "11px system-ui",
          values: (_u, values) => values.map((v) => formatMetric(v)) },
      ],
      series: [{ label: xLabel, value: (_u, v) => (v == null ? "—" : formatMetric(v)) }, ...lines, ...raw],
      cursor: { drag: { x: true, y: false, setScale: false }, points: { size: 6 } },
      legend: { live: true },
      hooks: {
        init: [(u) => {
          // The raw series under a smoothed one: drawn faintly, left out of the legend.
          const rows = u.root.querySelectorAll<HTMLElement>(".u-legend .u-series");
          rows.forEach((row, i) => { if (i > series.length) row.style.display = "none"; });
          u.over.addEventListener("dblclick", () => setZoom(null));
        }],
        setSelect: [(u) => {
          if (u.select.width < 4) return;
          const min = u.posToVal(u.select.left, "x");
          const max = u.posToVal(u.select.left + u.select.width, "x");
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          setZoom({ min, max, data: null });
          const detail = zoomRef.current;
          if (!detail) return;
          setLoadingDetail(true);
          detail(min, max)
            .then((found) => setZoom((z) => (z && z.min === min && z.max === max ? { min, max, data: found } : z)))
            .catch(() => undefined)
            .finally(() => setLoadingDetail(false));
        }],
        draw: [(u) => {
          const marks = (window.__runyard ??= {});
          if (marks.chartDrawnAt == null && u.data[0]?.length) marks.chartDrawnAt = performance.now();
        }],
      },
    };
    const made = new uPlot(options, data, element);
    plot.current = made;
    const observer = new ResizeObserver(() => {
      const width = Math.max(200, element.clientWidth);
      if (width !== made.width) made.setSize({ width, height });
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
      made.destroy();
      plot.current = null;
    };
  }, [shape, smoothed, logScale, currentTheme, xLabel, height]);

  useEffect(() => {
    const u = plot.current;
    if (!u) return;
    u.setData(data, !zoom);
    if (zoom) u.setScale("x", { min: zoom.min, max: zoom.max });
  }, [data]);

  return (
    <div className="panel chart" data-testid={`chart-${title}`}>
      <div className="chart-title">
        <span>{title}</span>
        {subtitle ? <span className="muted" data-testid="chart-subtitle">{subtitle}</span> : null}
        <span className="spacer" />
        {zoom ? (
          <>
            <span className="muted">{loadingDetail ? "reading detail…" : `${formatMetric(zoom.min)} – ${formatMetric(zoom.max)}`}</span>
            <button className="ghost" onClick={() => setZoom(null)} title="Zoom out (double-click the chart)">Reset zoom</button>
          </>
        ) : <span className="muted" title="Drag across the chart to zoom in">drag to zoom</span>}
      </div>
      <div ref={box} />
    </div>
  );
}
