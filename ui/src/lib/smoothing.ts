// Smoothing of a noisy metric: an exponential moving average, debiased at the start
// (TensorBoard's rule), so the first points are not dragged towards zero. Gaps (null, NaN,
// ±Infinity) stay gaps and do not reset the average.

export function smooth(values: ArrayLike<number | null>, weight: number): (number | null)[] {
  const out: (number | null)[] = new Array(values.length);
  if (!(weight > 0)) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      out[i] = v != null && Number.isFinite(v) ? v : null;
    }
    return out;
  }
  const w = Math.min(weight, 0.999);
  let last = 0;
  let seen = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v == null || !Number.isFinite(v)) {
      out[i] = null;
      continue;
    }
    last = last * w + (1 - w) * v;
    seen += 1;
    out[i] = last / (1 - Math.pow(w, seen));
  }
  return out;
}
