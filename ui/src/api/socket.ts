// A WebSocket to the daemon that reconnects with backoff (0.5 s doubling to 10 s, with
// jitter) and reports the daemon unreachable while it cannot connect. Every stream starts
// with a `state` message, so a reconnected client simply takes the state it is sent.
import { reportReachable, reportUnreachable } from "./connection";
import type { StreamMessage } from "./types";

export interface SocketHandlers {
  onMessage(message: StreamMessage, receivedAt: number, parseMs: number): void;
  /** The socket closed; `final` when the server ended the stream normally (code 1000). */
  onClose?(final: boolean, code: number): void;
  onOpen?(): void;
}

export interface LiveSocket {
  close(): void;
}

export function socketUrl(path: string): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/api/v1${path}`;
}

export function nextBackoff(previousMs: number): number {
  return Math.min(10000, Math.max(500, previousMs * 2));
}

/** Opens `path`; reconnects after an abnormal close unless `reconnect(code)` says no. */
export function openSocket(path: string, handlers: SocketHandlers,
                           reconnect: (code: number) => boolean = (code) => code !== 1000 && code < 4000): LiveSocket {
  let socket: WebSocket | null = null;
  let closed = false;
  let delay = 0;
  let timer: number | undefined;

  const connect = () => {
    socket = new WebSocket(socketUrl(path));
    socket.onopen = () => {
      delay = 0;
      reportReachable();
      handlers.onOpen?.();
    };
    socket.onmessage = (event) => {
      const receivedAt = performance.now();
      const message = JSON.parse(event.data as string) as StreamMessage;
      handlers.onMessage(message, receivedAt, performance.now() - receivedAt);
    };
    socket.onclose = (event) => {
      socket = null;
      if (closed) return;
      handlers.onClose?.(event.code === 1000, event.code);
      if (!reconnect(event.code)) return;
      if (event.code === 1006 || event.code === 1011 || event.code === 1001) reportUnreachable();
      delay = nextBackoff(delay);
      timer = window.setTimeout(connect, delay * (0.8 + Math.random() * 0.4));
    };
  };
  connect();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      socket?.close(1000);
    },
  };
}
