// The queue (home page): every run, live. The first page comes from GET /runs with the
// URL's filters and sort; further pages load while scrolling; the queue stream updates
// rows in place. Multi-select acts on many runs and opens Compare.
import { getCoreRowModel, useReactTable, type Row, type RowSelectionState } from "@tanstack/react-table";
import { useVirtualizer } from "@tanstack/react-virtual";
import { memo, useCallback, useEffect, useMemo, useRef, useState, type MouseEvent } from "react";
import { api, ApiError } from "../api/client";
import { STATUSES, type RunStatus } from "../api/types";
import { Link, navigate, setSearch, useLocation } from "../app/router";
import { useShortcuts } from "../app/shortcuts";
import { notify } from "../app/toasts";
import { Empty, ErrorBox } from "../components/bits";
import { confirmAction } from "../components/Confirm";
import { isLoss } from "../lib/metricGroups";
import { DEFAULT_SORT, decodeQueueView, encodeQueueView, encodeRunIds, nextSort, type QueueView } from "../lib/urlState";
import { type CellContext, queueColumns } from "../queue/columns";
import { LiveQueue, useQueueMeta, useQueueRun } from "../queue/liveQueue";

const ROW_HEIGHT = 38;

declare global {
  interface Window {
    __runyard?: { queue?: LiveQueue; chartDrawnAt?: number; [key: string]: unknown };
  }
}

export function QueuePage() {
  const { search } = useLocation();
  const view = useMemo(() => decodeQueueView(search), [search]);
  const viewKey = encodeQueueView(view);
  const queue = useMemo(() => new LiveQueue(view), [viewKey]);
  useEffect(() => {
    queue.start();
    window.__runyard = { ...(window.__runyard ?? {}), queue };
    return () => queue.stop();
  }, [queue]);
  return <Queue queue={queue} view={view} />;
}

function Queue({ queue, view }: { queue: LiveQueue; view: QueueView }) {
  const meta = useQueueMeta(queue);
  const [selection, setSelection] = useState<RowSelectionState>({});
  const [focus, setFocus] = useState(-1);
  const searchBox = useRef<HTMLInputElement>(null);
  const scroller = useRef<HTMLDivElement>(null);
  const lastClicked = useRef<number | null>(null);

  const metricKey = view.sort.replace(/^-/, "").startsWith("metric:") ? view.sort.replace(/^-?metric:/, "").split(":")[0] : null;
  const columns = useMemo(() => queueColumns(metricKey), [metricKey]);
  const table = useReactTable({
    data: meta.order,
    columns,
    getRowId: (id) => String(id),
    getCoreRowModel: getCoreRowModel(),
    state: { rowSelection: selection },
    onRowSelectionChange: setSelection,
    enableRowSelection: true,
  });
  const rows = table.getRowModel().rows;
  const selected = Object.keys(selection).filter((k) => selection[k]).map(Number);
  const template = columns.map((c) => c.meta!.width).join(" ");
  const context = useMemo<CellContext>(() => ({ metricKey }), [metricKey]);

  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });
  const items = virtualizer.getVirtualItems();
  const lastIndex = items.length ? items[items.length - 1].index : -1;
  useEffect(() => {
    if (meta.hasMore && !meta.loadingMore && lastIndex >= rows.length - 40) void queue.loadMore();
  }, [lastIndex, rows.length, meta.hasMore, meta.loadingMore, queue]);

  const update = (patch: Partial<QueueView>) => setSearch(encodeQueueView({ ...view, ...patch }));

  // The text filter follows typing, settled for a moment before the list is asked for.
  const [text, setText] = useState(view.q);
  useEffect(() => setText(view.q), [view.q]);
  useEffect(() => {
    if (text === view.q) return;
    const timer = setTimeout(() => update({ q: text.trim() }), 300);
    return () => clearTimeout(timer);
  }, [text]);

  const toggleStatus = (status: RunStatus) => {
    const has = view.status.includes(status);
    update({ status: has ? view.status.filter((s) => s !== status) : [...view.status, status] });
  };

  const act = async (action: "cancel" | "retry", ids: number[]) => {
    if (!ids.length) return;
    if (action === "cancel" && !(await confirmAction(`Cancel ${ids.length === 1 ? `run #${ids[0]}` : `${ids.length} runs`}? Running attempts are stopped.`, "Cancel runs"))) return;
    const results = await Promise.allSettled(ids.map((id) => api.act(id, action)));
    const failed = results.flatMap((r, i) => (r.status === "rejected" ? [`#${ids[i]}: ${(r.reason as ApiError).detail ?? r.reason}`] : []));
    const done = ids.length - failed.length;
    const verb = action === "cancel" ? "cancelled" : "retried";
    if (done) notify(`${done} run${done === 1 ? "" : "s"} ${verb}`);
    if (failed.length) notify(`${failed.length} could not be ${verb}: ${failed.slice(0, 3).join("; ")}${failed.length > 3 ? " …" : ""}`, "error");
    setSelection({});
  };

  const toggleRow = (row: Row<number>, event?: MouseEvent) => {
    const index = row.index;
    if (!event?.shiftKey) lastClicked.current = index;
    if (event?.shiftKey && lastClicked.current != null) {
      const [a, b] = [Math.min(lastClicked.current, index), Math.max(lastClicked.current, index)];
      const next = { ...selection };
      for (let i = a; i <= b; i++) next[String(rows[i].original)] = true;
      setSelection(next);
    } else {
      row.toggleSelected();
    }
  };
  // Rows keep one toggle function for their life (so they need not re-render); it calls the latest one.
  const toggleRef = useRef(toggleRow);
  toggleRef.current = toggleRow;
  const onToggle = useCallback((index: number, event: MouseEvent) => {
    const row = rowsRef.current[index];
    if (row) toggleRef.current(row, event);
  }, []);
  const rowsRef = useRef(rows);
  rowsRef.current = rows;

  const moveFocus = (delta: number) => {
    if (!rows.length) return;
    const next = Math.max(0, Math.min(rows.length - 1, (focus < 0 ? -1 : focus) + delta));
    setFocus(next);
    virtualizer.scrollToIndex(next, { align: "auto" });
  };

  useShortcuts([
    { keys: "/", description: "search runs", run: () => searchBox.current?.focus() },
    { keys: "j", description: "next run", run: () => moveFocus(1) },
    { keys: "k", description: "previous run", run: () => moveFocus(-1) },
    { keys: "x", description: "select / unselect the run under the cursor", run: () => rows[focus] && toggleRow(rows[focus]) },
    { keys: "Enter", description: "open the run under the cursor", run: () => rows[focus] && navigate(`/runs/${rows[focus].original}`) },
    { keys: "c", description: "cancel the selected runs", run: () => (selected.length ? void act("cancel", selected) : notify("select runs first (x, or their boxes)", "error")) },
    { keys: "r", description: "retry the selected runs", run: () => (selected.length ? void act("retry", selected) : notify("select runs first (x, or their boxes)", "error")) },
    { keys: "m", description: "compare the selected runs", run: () => selected.length && navigate(`/compare${encodeRunIds(selected)}`) },
    { keys: "a", description: "select every loaded run", run: () => table.toggleAllRowsSelected(true) },
    { keys: "u", description: "clear the selection", run: () => setSelection({}) },
  ]);

  // Metrics the loaded runs report, to sort by (best first: lowest loss, highest anything else).
  const metricKeys = useMemo(() => {
    const keys = new Set<string>();
    for (const id of meta.order.slice(0, 500)) for (const key of Object.keys(queue.run(id)?.metrics ?? {})) keys.add(key);
    if (metricKey) keys.add(metricKey);
    return [...keys].sort();
  }, [meta.order, metricKey]);

  const filtered = view.status.length > 0 || view.tag.length > 0 || Boolean(view.q) || Boolean(view.sweep);
  const totalRuns = Object.values(meta.liveCounts).reduce((s, n) => s + (n ?? 0), 0);

  return (
    <div className="page queue-page">
      <div className="toolbar">
        <input ref={searchBox} className="search" type="search" placeholder="Search name or command   /" value={text}
               onChange={(e) => setText(e.target.value)} aria-label="Search runs" />
        <div className="status-filters" role="group" aria-label="Filter by status">
          {STATUSES.map((status) => {
            const count = meta.counts[status] ?? 0;
            const on = view.status.includes(status);
            if (!count && !on) return null;
            return (
              <button key={status} className={`chip status-chip status-${status}${on ? " on" : ""}`}
                      aria-pressed={on} onClick={() => toggleStatus(status)} data-testid={`count-${status}`}>
                {status} <b>{count}</b>
              </button>
            );
          })}
        </div>
        <TagFilter tags={view.tag} onChange={(tag) => update({ tag })} />
        {filtered ? <button className="ghost" onClick={() => setSearch(view.sort !== DEFAULT_SORT ? `?sort=${view.sort}` : "")}>Clear filters</button> : null}
        <div className="spacer" />
        {metricKeys.length ? (
          <select aria-label="Sort by a metric" value={metricKey ? view.sort : ""}
                  onChange={(e) => update({ sort: e.target.value || DEFAULT_SORT })}>
            <option value="">Sort by a metric…</option>
            {metricKeys.map((key) => {
              const sort = isLoss(key) ? `metric:${key}:best` : `-metric:${key}:best`;
              return <option key={key} value={view.sort.replace(/^-?metric:/, "").split(":")[0] === key ? view.sort : sort}>best {key}</option>;
            })}
          </select>
        ) : null}
        <Link to="/submit" className="button primary">Submit a run</Link>
      </div>

      <div className={`selection-bar${selected.length ? " active" : ""}`} aria-live="polite">
        {selected.length ? (
          <>
            <b>{selected.length} selected</b>
            <button onClick={() => void act("cancel", selected)} className="danger">Cancel <kbd>c</kbd></button>
            <button onClick={() => void act("retry", selected)}>Retry <kbd>r</kbd></button>
            <Link to={`/compare${encodeRunIds(selected)}`} className="button">Compare <kbd>m</kbd></Link>
            <button className="ghost" onClick={() => setSelection({})}>Clear</button>
          </>
        ) : (
          <span className="muted">
            {meta.loading ? "Loading…" : `${meta.total.toLocaleString()} run${meta.total === 1 ? "" : "s"}${filtered ? " match" : ""}`}
            {meta.pendingNew ? (
              <> · <button className="linkish" onClick={() => void queue.load()}>{meta.pendingNew} new — show</button></>
            ) : null}
            {" · "}select runs to cancel, retry or compare them
          </span>
        )}
      </div>

      <div className="table" role="table" aria-label="Runs" aria-rowcount={meta.total}>
        <div className="thead" role="row" style={{ gridTemplateColumns: template }}>
          {table.getHeaderGroups()[0].headers.map((header) => {
            const meta = header.column.columnDef.meta!;
            if (header.column.id === "select") {
              return (
                <div key={header.id} role="columnheader" className="cell cell-select">
                  <input type="checkbox" aria-label="Select every loaded run" checked={table.getIsAllRowsSelected()}
                         ref={(el) => { if (el) el.indeterminate = table.getIsSomeRowsSelected(); }}
                         onChange={table.getToggleAllRowsSelectedHandler()} />
                </div>
              );
            }
            const sortKey = meta.sort;
            const direction = sortKey && view.sort === sortKey ? "ascending" : sortKey && view.sort === `-${sortKey}` ? "descending" : "none";
            return (
              <div key={header.id} role="columnheader" aria-sort={direction} className={`cell ${meta.className ?? ""}`}>
                {sortKey ? (
                  <button className="sort" onClick={() => update({ sort: nextSort(view.sort, sortKey) })}>
                    {String(header.column.columnDef.header)}
                    <span className="sort-mark">{direction === "ascending" ? "▲" : direction === "descending" ? "▼" : ""}</span>
                  </button>
                ) : String(header.column.columnDef.header)}
              </div>
            );
          })}
        </div>
        <div className="tbody" ref={scroller} data-testid="queue-body">
          {meta.error ? <ErrorBox error={meta.error} /> : null}
          {!meta.loading && !meta.error && rows.length === 0 ? (
            filtered ? (
              <Empty title="No runs match these filters">
                <button onClick={() => setSearch("")}>Clear filters</button>
              </Empty>
            ) : (
              <Empty title={totalRuns ? "No runs here" : "No runs yet"}>
                Submit one from the <Link to="/submit">form</Link>, or from a shell:{" "}
                <code>runyard submit -- python train.py</code>
              </Empty>
            )
          ) : null}
          <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
            {items.map((item) => {
              const row = rows[item.index];
              return (
                <QueueRow key={row.id} queue={queue} id={row.original} top={item.start} template={template}
                          columns={columns} context={context} selected={row.getIsSelected()} focused={item.index === focus}
                          index={item.index} onToggle={onToggle} />
              );
            })}
          </div>
          {meta.loadingMore ? <div className="muted pad">Loading more runs…</div> : null}
        </div>
      </div>
    </div>
  );
}

interface RowProps {
  queue: LiveQueue;
  id: number;
  top: number;
  template: string;
  columns: ReturnType<typeof queueColumns>;
  context: CellContext;
  selected: boolean;
  focused: boolean;
  index: number;
  onToggle(index: number, event: MouseEvent): void;
}

/** One run's row: it reads its run from the store, so a live update of that run
 *  re-renders this row alone. */
const QueueRow = memo(function QueueRow({ queue, id, top, template, columns, context, selected, focused, index, onToggle }: RowProps) {
  const run = useQueueRun(queue, id);
  if (!run) return null;
  return (
    <div role="row" className={`tr${selected ? " selected" : ""}${focused ? " focused" : ""}`} data-run-id={id}
         data-status={run.status} style={{ transform: `translateY(${top}px)`, gridTemplateColumns: template }}>
      {columns.map((column) => {
        const meta = column.meta!;
        if (column.id === "select") {
          return (
            <div key="select" role="cell" className="cell cell-select" onClick={(e) => { e.preventDefault(); onToggle(index, e); }}>
              <input type="checkbox" checked={selected} readOnly aria-label={`Select run ${id}`} />
            </div>
          );
        }
        return <div key={column.id} role="cell" className={`cell ${meta.className ?? ""}`}>{meta.render?.(run, context)}</div>;
      })}
    </div>
  );
}, (a, b) => a.id === b.id && a.top === b.top && a.index === b.index && a.selected === b.selected && a.focused === b.focused
  && a.template === b.template && a.columns === b.columns && a.context === b.context);

function TagFilter({ tags, onChange }: { tags: string[]; onChange(tags: string[]): void }) {
  const [text, setText] = useState("");
  return (
    <div className="tag-filter">
      {tags.map((tag) => (
        <button key={tag} className="chip on" onClick={() => onChange(tags.filter((t) => t !== tag))} title="Remove this tag filter">
          tag: {tag} ✕
        </button>
      ))}
      <input type="text" placeholder="+ tag" value={text} aria-label="Filter by tag" size={8}
             onChange={(e) => setText(e.target.value)}
             onKeyDown={(e) => {
               if (e.key === "Enter" && text.trim()) {
                 onChange([...new Set([...tags, text.trim()])]);
                 setText("");
               }
             }} />
    </div>
  );
}
