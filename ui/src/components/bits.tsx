// Small pieces shared by the pages.
import { useEffect, useState, type ReactNode } from "react";
import type { Progress, RunStatus } from "../api/types";
import { formatDuration, secondsBetween } from "../lib/format";

export function StatusBadge({ status, title }: { status: RunStatus | string; title?: string | null }) {
  return <span className={`badge status-${status}`} title={title ?? undefined}>{status}</span>;
}

/** Epoch/total as a bar, with the ETA while the run goes on. */
export function ProgressBar({ progress, status }: { progress: Progress; status: string }) {
  const { epoch, total_epochs: total, eta_s: eta } = progress;
  if (!epoch || !total) {
    return <span className="muted">{status === "running" ? "starting…" : "—"}</span>;
  }
  const fraction = Math.min(1, Math.max(0, epoch / total));
  const live = status === "running" || status === "paused";
  return (
    <div className="progress" title={`epoch ${epoch} of ${total}`}>
      <div className="progress-track">
        <div className={`progress-fill status-${status}`} style={{ width: `${fraction * 100}%` }} />
      </div>
      <span className="progress-text">
        {epoch}/{total}
        {live && eta != null ? <span className="muted"> · ETA {formatDuration(eta)}</span> : null}
      </span>
    </div>
  );
}

/** A run's time so far (ticking while it runs) or its whole duration. */
export function Elapsed({ from, to }: { from: string | null; to: string | null }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!from || to) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [from, to]);
  return <>{formatDuration(secondsBetween(from, to, now))}</>;
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <div className="empty-title">{title}</div>
      {children ? <div className="empty-body">{children}</div> : null}
    </div>
  );
}

export function ErrorBox({ error }: { error: unknown }) {
  const text = error instanceof Error ? error.message : String(error);
  return <div className="error-box" role="alert">{text}</div>;
}

export function Meter({ value, max, segments, label }: {
  value?: number; max: number; label: string;
  segments?: { value: number; className: string; title: string }[];
}) {
  const parts = segments ?? [{ value: value ?? 0, className: "meter-fill", title: label }];
  return (
    <div className="meter" role="meter" aria-label={label} aria-valuemin={0} aria-valuemax={max}
         aria-valuenow={parts.reduce((s, p) => s + p.value, 0)}>
      {parts.map((p, i) => (
        <div key={i} className={p.className} title={p.title}
             style={{ width: `${max > 0 ? Math.min(100, (p.value / max) * 100) : 0}%` }} />
      ))}
    </div>
  );
}

export function Tags({ tags }: { tags: string[] }) {
  if (!tags.length) return null;
  return <span className="tags">{tags.map((t) => <span key={t} className="tag">{t}</span>)}</span>;
}
