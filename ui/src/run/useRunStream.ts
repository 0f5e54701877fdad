// A run's live stream for its page: the run as it changes, and the points, output and
// list changes its parts listen to. Messages are applied once per animation frame.
import { useEffect, useMemo, useState } from "react";
import { openSocket } from "../api/socket";
import type { StreamMessage } from "../api/types";
import { applyRunMessage, initialRunState, type LogMessage, type RunEffects, type RunState } from "../lib/runModel";

type Listener<T> = (value: T) => void;

class Channel<T> {
  private listeners = new Set<Listener<T>>();
  on(listener: Listener<T>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  emit(value: T): void {
    this.listeners.forEach((listener) => listener(value));
  }
}

export class RunFeed {
  readonly points = new Channel<[string, number, number | string][]>();
  readonly refetchMetrics = new Channel<void>();
  readonly log = new Channel<LogMessage>();
  readonly lists = new Channel<void>();
}

export function useRunStream(id: number): [RunState, RunFeed] {
  const [state, setState] = useState<RunState>(initialRunState);
  const feed = useMemo(() => new RunFeed(), [id]);

  useEffect(() => {
    let current = initialRunState;
    let pending: StreamMessage[] = [];
    let frame = 0;
    const flush = () => {
      frame = 0;
      const batch = pending;
      pending = [];
      const points: [string, number, number | string][] = [];
      let refetch = false;
      let lists = false;
      const logs: LogMessage[] = [];
      for (const message of batch) {
        let effects: RunEffects;
        [current, effects] = applyRunMessage(current, message);
        if (effects.points) points.push(...effects.points);
        if (effects.refetchMetrics) refetch = true;
        if (effects.listsChanged) lists = true;
        if (effects.log) logs.push(effects.log);
      }
      setState(current);
      if (points.length) feed.points.emit(points);
      if (refetch) feed.refetchMetrics.emit();
      for (const log of logs) feed.log.emit(log);
      if (lists) feed.lists.emit();
    };
    const socket = openSocket(`/runs/${id}/ws`, {
      onMessage(message) {
        pending.push(message);
        if (!frame) frame = pending.length > 2000 ? window.setTimeout(flush, 0) : requestAnimationFrame(flush);
      },
    });
    return () => {
      socket.close();
      cancelAnimationFrame(frame);
      clearTimeout(frame);
    };
  }, [id, feed]);

  return [state, feed];
}
