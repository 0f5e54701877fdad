import { createRoot } from "react-dom/client";
import { App } from "./app/App";
import "uplot/dist/uPlot.min.css";
import "./styles.css";

// The first visit carries ?token=…; the daemon answered it with the session cookie, so the
// token leaves the address bar (and every link copied from it) right away.
const url = new URL(location.href);
if (url.searchParams.has("token")) {
  url.searchParams.delete("token");
  history.replaceState(null, "", url.pathname + url.search + url.hash);
}

createRoot(document.getElementById("root")!).render(<App />);
