// Which metrics share a chart: every loss together, every accuracy together (percent),
// any other key on its own chart (a learning rate next to a loss would flatten it).

export interface MetricGroup {
  id: string;
  title: string;
  keys: string[];
}

const SPLIT_ORDER = ["train", "val", "validation", "eval", "test"];

function splitRank(key: string): number {
  const lower = key.toLowerCase();
  const at = SPLIT_ORDER.findIndex((s) => lower.startsWith(s));
  return at < 0 ? SPLIT_ORDER.length : at;
}

export function isLoss(key: string): boolean {
  return /loss/i.test(key);
}

export function isAccuracy(key: string): boolean {
  return /(^|[^a-z])acc(uracy)?([^a-z]|$)/i.test(key) || /accuracy/i.test(key);
}

function byRank(a: string, b: string): number {
  return splitRank(a) - splitRank(b) || a.localeCompare(b);
}

export function groupMetrics(keys: Iterable<string>): MetricGroup[] {
  const losses: string[] = [];
  const accuracies: string[] = [];
  const others: string[] = [];
  for (const key of new Set(keys)) {
    if (isLoss(key)) losses.push(key);
    else if (isAccuracy(key)) accuracies.push(key);
    else others.push(key);
  }
  const groups: MetricGroup[] = [];
  if (losses.length) groups.push({ id: "losses", title: "Losses", keys: losses.sort(byRank) });
  if (accuracies.length) groups.push({ id: "accuracies", title: "Accuracies (%)", keys: accuracies.sort(byRank) });
  for (const key of others.sort()) groups.push({ id: `metric:${key}`, title: key, keys: [key] });
  return groups;
}

/** The one metric a queue row shows: the best-known accuracy, else a loss, else any. */
export function keyMetric(keys: string[], preferred?: string | null): string | null {
  if (preferred && keys.includes(preferred)) return preferred;
  for (const key of ["val_accuracy", "test_accuracy", "accuracy", "train_accuracy", "val_loss", "test_loss", "train_loss", "loss"]) {
    if (keys.includes(key)) return key;
  }
  return keys.length ? [...keys].sort()[0] : null;
}
