// A small client-side router over the History API: the daemon answers every page path
// with the same index.html (server/routes/ui.py), and this picks the page.
import type { AnchorHTMLAttributes, MouseEvent, ReactNode } from "react";
import { createStore, useStore } from "../lib/store";

export interface Location {
  path: string;
  search: string;
}

const current = (): Location => ({ path: location.pathname, search: location.search });
const locationStore = createStore<Location>(current());
addEventListener("popstate", () => locationStore.set(current()));

export function useLocation(): Location {
  return useStore(locationStore);
}

export function getLocation(): Location {
  return locationStore.get();
}

/** Goes to `to` (a path with an optional query); `replace` for state changes that
 *  should not each make a Back step (typing a filter, moving a slider). */
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  const url = new URL(to, location.origin);
  const next = url.pathname + url.search;
  if (next === location.pathname + location.search) return;
  if (options.replace) history.replaceState(null, "", next);
  else history.pushState(null, "", next);
  locationStore.set(current());
  if (!options.replace) window.scrollTo(0, 0);
}

/** Replaces only the query string of the current page. */
export function setSearch(search: string): void {
  navigate(location.pathname + search, { replace: true });
}

interface LinkProps extends AnchorHTMLAttributes<HTMLAnchorElement> {
  to: string;
  children: ReactNode;
}

export function Link({ to, children, onClick, ...rest }: LinkProps) {
  const follow = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={follow} {...rest}>{children}</a>;
}

export type Route =
  | { page: "queue" }
  | { page: "run"; id: number }
  | { page: "compare" }
  | { page: "submit" }
  | { page: "gpus" }
  | { page: "missing" };

export function matchRoute(path: string): Route {
  const clean = path.replace(/\/+$/, "") || "/";
  if (clean === "/") return { page: "queue" };
  const run = /^\/runs\/(\d+)$/.exec(clean);
  if (run) return { page: "run", id: Number(run[1]) };
  if (clean === "/compare") return { page: "compare" };
  if (clean === "/submit") return { page: "submit" };
  if (clean === "/gpus") return { page: "gpus" };
  return { page: "missing" };
}
