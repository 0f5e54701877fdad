// Short notices after an action ("3 runs cancelled", or why one could not be).
import { createStore, useStore } from "../lib/store";

export interface Toast {
  id: number;
  text: string;
  tone: "ok" | "error";
}

const toasts = createStore<Toast[]>([]);
let nextId = 1;

export function notify(text: string, tone: Toast["tone"] = "ok"): void {
  const toast = { id: nextId++, text, tone };
  toasts.set((list) => [...list.slice(-4), toast]);
  setTimeout(() => toasts.set((list) => list.filter((t) => t.id !== toast.id)), tone === "error" ? 8000 : 4000);
}

export function Toasts() {
  const list = useStore(toasts);
  return (
    <div className="toasts" role="status" aria-live="polite">
      {list.map((t) => (
        <div key={t.id} className={`toast toast-${t.tone}`}>{t.text}</div>
      ))}
    </div>
  );
}
