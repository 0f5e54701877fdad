// An attempt's output: follows the tail while the run prints, reads earlier parts by byte
// range when scrolled to the top (so a 100 MB log is never loaded whole), collapses
// progress-bar redraws, shows ANSI colours, and searches what is loaded.
//
// Text is never HTML: a plain line is a React text node; a line with colour codes goes
// through ansi_up with escape_html on, which escapes <, >, & and quotes before adding its
// own <span style> tags.
import { useVirtualizer } from "@tanstack/react-virtual";
import { AnsiUp } from "ansi_up";
import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { api, fileUrl, readLog } from "../api/client";
import type { Run } from "../api/types";
import { useShortcuts } from "../app/shortcuts";
import { Empty, ErrorBox } from "../components/bits";
import { formatBytes } from "../lib/format";
import { LogBuffer } from "../lib/logLines";
import type { RunFeed } from "./useRunStream";

const LINE_HEIGHT = 18;
const CHUNK = 512 * 1024; // bytes read per step back
const AUTO_FILL = 256 * 1024; // gaps up to this size are read at once
const MAX_SHOWN = 20_000; // characters of one line drawn (the rest is in the raw file)

const ansi = new AnsiUp();
ansi.escape_html = true;

function ansiHtml(text: string): string {
  ansi.escape_html = true; // never off: the output of a run is not trusted HTML
  return ansi.ansi_to_html(text);
}

interface Props {
  run: Run;
  attempt: number | null;
  feed: RunFeed;
  onAttempt(attempt: number | null): void;
}

export function LogViewer({ run, attempt: chosen, feed, onAttempt }: Props) {
  const latest = run.attempts.length ? run.attempts[run.attempts.length - 1].number : null;
  const attempt = chosen ?? latest;
  const attemptInfo = run.attempts.find((a) => a.number === attempt);
  const live = attemptInfo != null && !["completed", "failed", "cancelled", "lost"].includes(attemptInfo.status);

  const buffer = useMemo(() => new LogBuffer(), [run.id, attempt]);
  const [version, setVersion] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const [ready, setReady] = useState(false);
  const [follow, setFollow] = useState(true);
  const [query, setQuery] = useState("");
  const [hit, setHit] = useState(0);
  const [earlierLoading, setEarlierLoading] = useState(false);
  const [size, setSize] = useState<number | null>(null);
  const scroller = useRef<HTMLDivElement>(null);
  const searchBox = useRef<HTMLInputElement>(null);
  const bump = useCallback(() => setVersion((v) => v + 1), []);

  // The tail first; live output that arrives meanwhile waits, then joins (overlaps are cut).
  useEffect(() => {
    if (attempt == null) return;
    let cancelled = false;
    const waiting: { text: string; offset: number; skipped: number }[] = [];
    let loaded = false;
    const append = (text: string, offset: number, skipped: number) => {
      buffer.appendText(text, offset);
      if (skipped > 0 && skipped <= AUTO_FILL) void fillGap(offset - skipped);
      bump();
    };
    const off = feed.log.on((message) => {
      if (message.attempt !== attempt) return;
      if (!loaded) waiting.push(message);
      else append(message.text, message.offset, message.skipped);
    });
    setReady(false);
    setError(null);
    (async () => {
      try {
        const files = await api.files(run.id);
        const file = files.files.find((f) => f.path === `attempt-${attempt}/output.log`);
        const total = file?.size ?? 0;
        const from = Math.max(0, total - CHUNK);
        const chunk = total > 0 ? await readLog(run.id, attempt, from, total - from) : null;
        if (cancelled) return;
        let start = from;
        let bytes = chunk?.bytes ?? new Uint8Array();
        if (from > 0) {
          const newline = bytes.indexOf(10);
          start = newline < 0 ? from + bytes.length : from + newline + 1;
          bytes = newline < 0 ? new Uint8Array() : bytes.subarray(newline + 1);
        }
        buffer.reset(start);
        buffer.appendBytes(bytes, start);
        loaded = true;
        for (const m of waiting) append(m.text, m.offset, m.skipped);
        setSize(total);
        setReady(true);
        bump();
      } catch (e) {
        if (!cancelled) setError(e);
      }
    })();
    return () => {
      cancelled = true;
      off();
    };
  }, [buffer, feed, attempt, run.id]);

  const fillGap = async (start: number) => {
    const gap = buffer.lines.find((l) => l.gapEnd != null && l.start === start);
    if (!gap || gap.gapEnd == null || attempt == null) return;
    const chunk = await readLog(run.id, attempt, gap.start, gap.gapEnd - gap.start);
    buffer.fillGap(start, chunk.bytes);
    bump();
  };

  const loadEarlier = async () => {
    if (earlierLoading || !buffer.hasEarlier || attempt == null) return;
    setEarlierLoading(true);
    try {
      const from = Math.max(0, buffer.start - CHUNK);
      const chunk = await readLog(run.id, attempt, from, buffer.start - from);
      const before = buffer.length;
      buffer.prependBytes(chunk.bytes, from);
      const added = buffer.length - before;
      bump();
      // Keep the lines on screen where they were.
      requestAnimationFrame(() => {
        if (scroller.current) scroller.current.scrollTop += added * LINE_HEIGHT;
      });
    } catch (e) {
      setError(e);
    } finally {
      setEarlierLoading(false);
    }
  };

  const count = buffer.length + (buffer.hasEarlier ? 1 : 0);
  const offsetRows = buffer.hasEarlier ? 1 : 0;
  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scroller.current,
    estimateSize: () => LINE_HEIGHT,
    overscan: 30,
  });

  // Following: stay at the bottom as lines come. A reader's scroll up wins even when lines
  // arrive before its scroll event does (a busy log would otherwise pull them back down).
  const autoTop = useRef<number | null>(null);
  useLayoutEffect(() => {
    const element = scroller.current;
    if (!follow) autoTop.current = null;
    if (!follow || !element || !ready) return;
    if (autoTop.current != null && element.scrollTop < autoTop.current - LINE_HEIGHT) {
      setFollow(false);
      return;
    }
    element.scrollTop = element.scrollHeight;
    autoTop.current = element.scrollTop;
  }, [version, follow, ready, count]);

  const onScroll = () => {
    const element = scroller.current;
    if (!element) return;
    const atBottom = element.scrollTop + element.clientHeight >= element.scrollHeight - LINE_HEIGHT;
    if (atBottom !== follow) setFollow(atBottom);
    if (element.scrollTop < LINE_HEIGHT * 2 && buffer.hasEarlier && ready) void loadEarlier();
  };

  // Search over the loaded lines: at once for a new query, then at most every 300 ms while
  // output streams in (a throttle, not a debounce, which a busy log would starve).
  const [matches, setMatches] = useState<number[]>([]);
  const searchTimer = useRef<number | undefined>(undefined);
  const latestQuery = useRef(query);
  latestQuery.current = query;
  useEffect(() => {
    setMatches(buffer.search(query));
  }, [query, buffer]);
  useEffect(() => {
    if (!query || searchTimer.current !== undefined) return;
    searchTimer.current = window.setTimeout(() => {
      searchTimer.current = undefined;
      setMatches(buffer.search(latestQuery.current));
    }, 300);
  }, [version]);
  useEffect(() => () => clearTimeout(searchTimer.current), []);
  const matchSet = useMemo(() => new Set(matches), [matches]);
  const goTo = (index: number) => {
    if (!matches.length) return;
    const wrapped = ((index % matches.length) + matches.length) % matches.length;
    setHit(wrapped);
    setFollow(false);
    virtualizer.scrollToIndex(matches[wrapped] + offsetRows, { align: "center" });
  };

  useShortcuts([
    { keys: "/", description: "search the log", run: () => searchBox.current?.focus() },
    { keys: "n", description: "next match in the log", run: () => goTo(hit + 1) },
    { keys: "N", description: "previous match in the log", run: () => goTo(hit - 1) },
    { keys: "f", description: "follow the end of the log", run: () => setFollow(true) },
  ]);

  if (!run.attempts.length) {
    return <Empty title="No output yet">The run has not started{run.waiting_for ? `: ${run.waiting_for}` : ""}.</Empty>;
  }

  return (
    <div className="log-viewer">
      <div className="log-tools">
        <label>
          Attempt{" "}
          <select value={chosen ?? ""} onChange={(e) => onAttempt(e.target.value ? Number(e.target.value) : null)} aria-label="Attempt">
            <option value="">latest ({latest})</option>
            {run.attempts.map((a) => <option key={a.number} value={a.number}>{a.number} · {a.status}</option>)}
          </select>
        </label>
        <input ref={searchBox} type="search" placeholder="Search the log   /" value={query} aria-label="Search the log"
               onChange={(e) => { setQuery(e.target.value); setHit(-1); }}
               onKeyDown={(e) => { if (e.key === "Enter") goTo(e.shiftKey ? hit - 1 : hit + 1); }} />
        {query ? (
          <span className="muted" data-testid="log-matches">
            {matches.length ? (hit >= 0 ? `${hit + 1} of ${matches.length}` : `${matches.length} lines`) : "no match"} in the loaded part
            <button className="ghost" onClick={() => goTo(hit - 1)} aria-label="Previous match">↑</button>
            <button className="ghost" onClick={() => goTo(hit + 1)} aria-label="Next match">↓</button>
          </span>
        ) : null}
        <span className="spacer" />
        <span className="muted">
          {live ? (follow ? "following" : "paused — ") : "finished"}
          {live && !follow ? <button className="linkish" onClick={() => setFollow(true)}>follow <kbd>f</kbd></button> : null}
          {size != null ? ` · ${formatBytes(Math.max(size, buffer.end))}` : ""}
          {buffer.start > 0 ? ` · from byte ${buffer.start.toLocaleString()}` : ""}
        </span>
        {attempt != null ? <a href={fileUrl(run.id, `attempt-${attempt}/output.log`)} download={`run-${run.id}-attempt-${attempt}.log`}>raw log</a> : null}
      </div>
      {error ? <ErrorBox error={error} /> : null}
      <div className="log" ref={scroller} onScroll={onScroll} data-testid="log" tabIndex={0}>
        {ready && buffer.length === 0 ? <div className="pad muted">No output yet.</div> : null}
        <div style={{ height: virtualizer.getTotalSize(), position: "relative", minWidth: "100%" }}>
          {virtualizer.getVirtualItems().map((item) => {
            if (buffer.hasEarlier && item.index === 0) {
              return (
                <div key="earlier" className="log-line log-gap" style={{ transform: `translateY(${item.start}px)` }}>
                  {earlierLoading ? "reading earlier output…" : `${formatBytes(buffer.start)} of earlier output`}
                  {!earlierLoading ? <button onClick={() => void loadEarlier()}>load</button> : null}
                </div>
              );
            }
            const index = item.index - offsetRows;
            const line = buffer.line(index);
            return (
              <LogRow key={`${line.start}:${index}`} top={item.start} text={line.text} gapEnd={line.gapEnd} start={line.start}
                      query={matchSet.has(index) ? query : ""} current={matches[hit] === index}
                      onFill={fillGap} />
            );
          })}
        </div>
      </div>
    </div>
  );
}

interface RowProps {
  top: number;
  text: string;
  start: number;
  gapEnd?: number;
  query: string;
  current: boolean;
  onFill(start: number): void;
}

const LogRow = memo(function LogRow({ top, text, start, gapEnd, query, current, onFill }: RowProps) {
  const style = { transform: `translateY(${top}px)` };
  if (gapEnd != null) {
    return (
      <div className="log-line log-gap" style={style}>
        … {formatBytes(gapEnd - start)} of output sent too fast to stream
        <button onClick={() => onFill(start)}>load</button>
      </div>
    );
  }
  const shown = text.length > MAX_SHOWN ? text.slice(0, MAX_SHOWN) : text;
  const cut = text.length > MAX_SHOWN ? <span className="muted"> … {text.length - MAX_SHOWN} more characters (raw log)</span> : null;
  const className = `log-line${query ? (current ? " current-hit" : " hit") : ""}`;
  if (shown.includes("\x1b")) {
    return (
      <div className={className} style={style} title={`byte ${start}`}>
        <span dangerouslySetInnerHTML={{ __html: ansiHtml(shown) }} />{cut}
      </div>
    );
  }
  return <div className={className} style={style} title={`byte ${start}`}>{highlight(shown, query)}{cut}</div>;
});

function highlight(text: string, query: string): ReactNode {
  if (!query) return text;
  const lower = text.toLowerCase();
  const needle = query.toLowerCase();
  const parts: ReactNode[] = [];
  let from = 0;
  for (let at = lower.indexOf(needle); at >= 0; at = lower.indexOf(needle, from)) {
    parts.push(text.slice(from, at), <mark key={at}>{text.slice(at, at + needle.length)}</mark>);
    from = at + needle.length;
  }
  parts.push(text.slice(from));
  return parts;
}

