// Light and dark themes: CSS variables switched by <html data-theme>. The choice is kept
// in localStorage; without one, the system's preference decides (index.html applies it
// before the first paint).
import { createStore } from "../lib/store";

export type Theme = "light" | "dark";

export const theme = createStore<Theme>((document.documentElement.dataset.theme as Theme) || "light");

export function setTheme(next: Theme): void {
  document.documentElement.dataset.theme = next;
  try {
    localStorage.setItem("runyard.theme", next);
  } catch {
    /* private mode: the choice lasts this page only */
  }
  theme.set(next);
}

export function toggleTheme(): void {
  setTheme(theme.get() === "dark" ? "light" : "dark");
}

/** A CSS variable's value (for the charts, which draw on a canvas). */
export function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}
