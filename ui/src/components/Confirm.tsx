// A confirmation dialog for destructive actions (cancel, delete), in place of window.confirm
// (which blocks the page and its live updates).
import { useEffect, useRef } from "react";
import { createStore, useStore } from "../lib/store";

interface Ask {
  text: string;
  action: string;
  resolve(ok: boolean): void;
}

const asking = createStore<Ask | null>(null);

export function confirmAction(text: string, action: string): Promise<boolean> {
  return new Promise((resolve) => asking.set({ text, action, resolve }));
}

export function ConfirmDialog() {
  const ask = useStore(asking);
  const button = useRef<HTMLButtonElement>(null);
  useEffect(() => button.current?.focus(), [ask]);
  if (!ask) return null;
  const answer = (ok: boolean) => {
    asking.set(null);
    ask.resolve(ok);
  };
  return (
    <div className="overlay" onClick={() => answer(false)}
         onKeyDown={(e) => { if (e.key === "Escape") { e.stopPropagation(); answer(false); } }}>
      <div className="dialog" role="alertdialog" aria-label={ask.action} onClick={(e) => e.stopPropagation()}>
        <p>{ask.text}</p>
        <div className="row gap">
          <button ref={button} className="danger" onClick={() => answer(true)}>{ask.action}</button>
          <button onClick={() => answer(false)}>Keep</button>
        </div>
      </div>
    </div>
  );
}
