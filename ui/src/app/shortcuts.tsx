// Keyboard shortcuts: the app's own (navigation, theme, help) plus those the page on
// screen registers with useShortcuts. "?" lists every one that applies now.
import { useEffect, useRef } from "react";
import { type Binding, KeyMatcher, isTyping } from "../lib/keys";
import { createStore, useStore } from "../lib/store";

const pageBindings = createStore<Binding[][]>([]);
export const helpOpen = createStore(false);

/** Registers a page's shortcuts while it is mounted (the latest closures are used). */
export function useShortcuts(bindings: Binding[]): void {
  const ref = useRef(bindings);
  ref.current = bindings;
  const keys = bindings.map((b) => `${b.keys}\u0000${b.description}`).join("\u0001");
  useEffect(() => {
    const proxies = ref.current.map((b, i) => ({ ...b, run: () => ref.current[i]?.run() }));
    pageBindings.set((all) => [...all, proxies]);
    return () => pageBindings.set((all) => all.filter((list) => list !== proxies));
  }, [keys]);
}

export function activeBindings(global: Binding[]): Binding[] {
  return [...pageBindings.get().flat(), ...global];
}

export function useKeyboard(global: () => Binding[]): void {
  useEffect(() => {
    const matcher = new KeyMatcher(() => activeBindings(global()));
    const onKey = (event: KeyboardEvent) => {
      if (event.metaKey || event.ctrlKey || event.altKey) return;
      if (event.key === "Escape") {
        helpOpen.set(false);
        if (isTyping(event.target)) (event.target as HTMLElement).blur();
        return;
      }
      if (isTyping(event.target)) return;
      const binding = matcher.feed(event.key);
      if (binding) {
        event.preventDefault();
        binding.run();
      }
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, []);
}

export function ShortcutHelp({ global }: { global: Binding[] }) {
  const open = useStore(helpOpen);
  useStore(pageBindings);
  if (!open) return null;
  const bindings = activeBindings(global);
  return (
    <div className="overlay" onClick={() => helpOpen.set(false)}>
      <div className="dialog" role="dialog" aria-label="Keyboard shortcuts" onClick={(e) => e.stopPropagation()}>
        <h2>Keyboard shortcuts</h2>
        <table className="kv shortcuts">
          <tbody>
            {bindings.map((b) => (
              <tr key={b.keys + b.description}>
                <td>{b.keys.split(" ").map((k, i) => <kbd key={i}>{k}</kbd>)}</td>
                <td>{b.description}</td>
              </tr>
            ))}
            <tr><td><kbd>Esc</kbd></td><td>close this, leave a text field</td></tr>
          </tbody>
        </table>
        <button onClick={() => helpOpen.set(false)}>Close</button>
      </div>
    </div>
  );
}
