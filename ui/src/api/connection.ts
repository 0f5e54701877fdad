// Whether the daemon answers. Any failed request or dropped stream reports "unreachable";
// while it is, /health is tried with a growing pause (1 s … 15 s) until the daemon
// answers, which clears the banner. No polling happens while everything is fine.
import { createStore } from "../lib/store";

export type Connection = "ok" | "unreachable" | "unauthorized";
export const connection = createStore<Connection>("ok");

let probe: number | undefined;
let pause = 1000;

export function reportReachable(): void {
  if (connection.get() === "unreachable") connection.set("ok");
  pause = 1000;
  if (probe !== undefined) {
    clearTimeout(probe);
    probe = undefined;
  }
}

export function reportUnauthorized(): void {
  connection.set("unauthorized");
}

export function reportUnreachable(): void {
  if (connection.get() === "unauthorized") return;
  connection.set("unreachable");
  if (probe === undefined) scheduleProbe();
}

function scheduleProbe(): void {
  probe = window.setTimeout(async () => {
    probe = undefined;
    try {
      const answer = await fetch("/api/v1/health", { credentials: "same-origin", cache: "no-store" });
      if (answer.status === 401) return reportUnauthorized();
      if (answer.ok) return reportReachable();
    } catch {
      /* still down */
    }
    pause = Math.min(pause * 2, 15000);
    scheduleProbe();
  }, pause);
}
