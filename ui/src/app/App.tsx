// The page frame: navigation, theme, the connection banner, shortcuts, and the page
// that the URL names.
import { useMemo } from "react";
import { ConnectionBanner } from "../components/Banner";
import { ConfirmDialog } from "../components/Confirm";
import type { Binding } from "../lib/keys";
import { useStore } from "../lib/store";
import { ComparePage } from "../pages/ComparePage";
import { GpusPage } from "../pages/GpusPage";
import { QueuePage } from "../pages/QueuePage";
import { RunPage } from "../pages/RunPage";
import { SubmitPage } from "../pages/SubmitPage";
import { Link, matchRoute, navigate, useLocation } from "./router";
import { ShortcutHelp, helpOpen, useKeyboard } from "./shortcuts";
import { theme, toggleTheme } from "./theme";
import { Toasts } from "./toasts";

const GLOBAL: Binding[] = [
  { keys: "g q", description: "go to the queue", run: () => navigate("/") },
  { keys: "g s", description: "go to submit", run: () => navigate("/submit") },
  { keys: "g g", description: "go to the GPUs", run: () => navigate("/gpus") },
  { keys: "g c", description: "go to compare", run: () => navigate("/compare") },
  { keys: "t", description: "switch light / dark theme", run: toggleTheme },
  { keys: "?", description: "show these shortcuts", run: () => helpOpen.set(!helpOpen.get()) },
];

export function App() {
  const { path } = useLocation();
  const route = useMemo(() => matchRoute(path), [path]);
  const current = useStore(theme);
  useKeyboard(() => GLOBAL);

  const page = (() => {
    switch (route.page) {
      case "queue": return <QueuePage />;
      case "run": return <RunPage key={route.id} id={route.id} />;
      case "compare": return <ComparePage />;
      case "submit": return <SubmitPage />;
      case "gpus": return <GpusPage />;
      default: return (
        <div className="page"><h1>Not found</h1><p>No page at <code>{path}</code>. <Link to="/">Back to the queue</Link>.</p></div>
      );
    }
  })();

  const tab = (to: string, label: string, active: boolean) => (
    <Link to={to} className={active ? "nav-link active" : "nav-link"} aria-current={active ? "page" : undefined}>{label}</Link>
  );

  return (
    <div className="app">
      <header className="topbar">
        <Link to="/" className="brand">runyard</Link>
        <nav>
          {tab("/", "Queue", route.page === "queue" || route.page === "run")}
          {tab("/compare", "Compare", route.page === "compare")}
          {tab("/submit", "Submit", route.page === "submit")}
          {tab("/gpus", "GPUs", route.page === "gpus")}
        </nav>
        <div className="spacer" />
        <button className="ghost" onClick={() => helpOpen.set(true)} title="Keyboard shortcuts (?)">?</button>
        <button className="ghost" onClick={toggleTheme} title="Switch theme (t)" aria-label="Switch theme">
          {current === "dark" ? "☀ Light" : "☾ Dark"}
        </button>
      </header>
      <ConnectionBanner />
      <main>{page}</main>
      <ShortcutHelp global={GLOBAL} />
      <ConfirmDialog />
      <Toasts />
    </div>
  );
}
