// Metric series on the client: sorted x with values, grown by live points, and aligned
// into the one shared x array a uPlot chart draws.
import type { MetricValue, Series } from "../api/types";

export interface XY {
  xs: number[];
  ys: (number | null)[];
}

/** A value as a chart can draw it: non-finite ("NaN", Infinity) becomes a gap. */
export function toNumber(value: MetricValue | null | undefined): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  return null;
}

export function fromApi(series: Series): XY {
  const xs = new Array<number>(series.length);
  const ys = new Array<number | null>(series.length);
  for (let i = 0; i < series.length; i++) {
    xs[i] = series[i][0];
    ys[i] = toNumber(series[i][1]);
  }
  return { xs, ys };
}

/** Adds one point in x order; a point at an x already there replaces it (last write wins,
 *  as the store does: a retried attempt reports the same steps again). */
export function addPoint(series: XY, x: number, value: MetricValue): void {
  const y = toNumber(value);
  const n = series.xs.length;
  if (n === 0 || x > series.xs[n - 1]) {
    series.xs.push(x);
    series.ys.push(y);
    return;
  }
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (series.xs[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  if (series.xs[lo] === x) series.ys[lo] = y;
  else {
    series.xs.splice(lo, 0, x);
    series.ys.splice(lo, 0, y);
  }
}

/** Merges several series into uPlot's shape: [xs, ys1, ys2, …] over the union of their x,
 *  with null where a series has no point (drawn across with spanGaps). */
export function alignSeries(list: XY[]): [number[], ...(number | null)[][]] {
  if (list.length === 1) return [list[0].xs, list[0].ys];
  const xs: number[] = [];
  const at = list.map(() => 0);
  for (;;) {
    let next = Infinity;
    for (let s = 0; s < list.length; s++) {
      if (at[s] < list[s].xs.length && list[s].xs[at[s]] < next) next = list[s].xs[at[s]];
    }
    if (next === Infinity) break;
    xs.push(next);
    for (let s = 0; s < list.length; s++) {
      if (at[s] < list[s].xs.length && list[s].xs[at[s]] === next) at[s] += 1;
    }
  }
  const columns = list.map((series) => {
    const ys = new Array<number | null>(xs.length).fill(null);
    let j = 0;
    for (let i = 0; i < xs.length && j < series.xs.length; i++) {
      if (series.xs[j] === xs[i]) ys[i] = series.ys[j++];
    }
    return ys;
  });
  return [xs, ...columns];
}
