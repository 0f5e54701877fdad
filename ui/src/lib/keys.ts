// Keyboard shortcuts: single keys ("c", "?", "/") and two-key sequences ("g q"), matched
// as the user types; a sequence's second key must come within a second of the first.

export interface Binding {
  keys: string; // "c", "g q", "?"
  description: string;
  run(): void;
}

export class KeyMatcher {
  private pending: string | null = null;
  private pendingAt = 0;

  constructor(private readonly bindings: () => Binding[], private readonly windowMs = 1000) {}

  /** Feeds one key; the binding it completes, if any. */
  feed(key: string, now = Date.now()): Binding | null {
    const bindings = this.bindings();
    if (this.pending && now - this.pendingAt <= this.windowMs) {
      const sequence = `${this.pending} ${key}`;
      this.pending = null;
      const found = bindings.find((b) => b.keys === sequence);
      if (found) return found;
    }
    this.pending = null;
    if (bindings.some((b) => b.keys.startsWith(`${key} `))) {
      this.pending = key;
      this.pendingAt = now;
      return null;
    }
    return bindings.find((b) => b.keys === key) ?? null;
  }
}

/** Whether a key press belongs to a text field rather than to the page's shortcuts. */
export function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  const tag = target.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
}
