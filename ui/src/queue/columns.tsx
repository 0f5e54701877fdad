// The queue table's columns. Rows are run ids (so a live update never rebuilds the
// table's row model); each cell renders from the run that its row reads from the store.
import type { ColumnDef } from "@tanstack/react-table";
import type { ReactNode } from "react";
import type { Run } from "../api/types";
import { Link } from "../app/router";
import { Elapsed, ProgressBar, StatusBadge, Tags } from "../components/bits";
import { formatMetric, formatTime } from "../lib/format";
import { keyMetric } from "../lib/metricGroups";

declare module "@tanstack/react-table" {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  interface ColumnMeta<TData, TValue> {
    /** The column's CSS grid track. */
    width: string;
    /** The API's sort key, when the column sorts. */
    sort?: string;
    render?(run: Run, context: CellContext): ReactNode;
    className?: string;
  }
}

export interface CellContext {
  metricKey: string | null;
}

export function queueColumns(metricKey: string | null): ColumnDef<number>[] {
  return [
    { id: "select", header: "", meta: { width: "36px", className: "cell-select" } },
    {
      id: "status", header: "Status",
      meta: { width: "104px", sort: "status", render: (run) => <StatusBadge status={run.status} title={statusTitle(run)} /> },
    },
    {
      id: "id", header: "ID",
      meta: { width: "64px", sort: "id", className: "num", render: (run) => <Link to={`/runs/${run.id}`}>#{run.id}</Link> },
    },
    {
      id: "name", header: "Name",
      meta: {
        width: "minmax(180px, 2fr)", sort: "name", className: "cell-name",
        render: (run) => (
          <Link to={`/runs/${run.id}`} className="run-name" title={run.display_command}>
            {/* text, never HTML: a run may be named anything */}
            {run.name || run.display_command}
          </Link>
        ),
      },
    },
    {
      id: "progress", header: "Progress",
      meta: { width: "minmax(150px, 1.2fr)", render: (run) => <ProgressBar progress={run.progress} status={run.status} /> },
    },
    {
      id: "metric", header: metricKey ? `Metric: ${metricKey}` : "Key metric",
      meta: {
        width: "minmax(120px, 1fr)", sort: metricKey ? `metric:${metricKey}` : undefined, className: "num",
        render: (run, ctx) => {
          const key = keyMetric(Object.keys(run.metrics), ctx.metricKey);
          if (!key) return <span className="muted">—</span>;
          return <span title={key}><span className="muted metric-key">{key}</span> {formatMetric(run.metrics[key])}</span>;
        },
      },
    },
    {
      id: "gpus", header: "GPUs",
      meta: { width: "64px", className: "num", render: (run) => gpuText(run) },
    },
    {
      id: "duration", header: "Duration",
      meta: {
        width: "88px", sort: "duration", className: "num",
        render: (run) => run.started_at ? <Elapsed from={run.started_at} to={run.finished_at} /> : <span className="muted">—</span>,
      },
    },
    {
      id: "created", header: "Created",
      meta: { width: "104px", sort: "created_at", className: "num muted", render: (run) => formatTime(run.created_at) },
    },
    {
      id: "tags", header: "Tags",
      meta: { width: "minmax(90px, 1fr)", render: (run) => <Tags tags={run.tags} /> },
    },
  ];
}

function gpuText(run: Run): ReactNode {
  if (run.gpus.length) return <span title={`on GPU ${run.gpus.join(", ")}`}>{run.gpus.join(",")}</span>;
  if (run.gpus_min === 0) return <span className="muted">CPU</span>;
  if (run.gpus_min != null) {
    const want = run.gpus_min === run.gpus_max ? `${run.gpus_min}` : `${run.gpus_min}-${run.gpus_max}`;
    return <span className="muted" title={`asks for ${want} GPU${want === "1" ? "" : "s"}`}>×{want}</span>;
  }
  return <span className="muted">—</span>;
}

function statusTitle(run: Run): string | null {
  if (run.waiting_for) return run.waiting_for;
  if (run.reason) return `${run.reason}${run.exit_code != null ? ` (exit ${run.exit_code})` : ""}`;
  return null;
}
