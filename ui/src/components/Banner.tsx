// The banner shown while the daemon does not answer (it clears itself when the daemon is
// back) or refuses the session's token.
import { connection } from "../api/connection";
import { useStore } from "../lib/store";

export function ConnectionBanner() {
  const state = useStore(connection);
  if (state === "ok") return null;
  if (state === "unauthorized") {
    return (
      <div className="banner banner-error" role="alert">
        The daemon refused this page's token (it was restarted with a new one?). Open the URL
        with <code>?token=…</code> again: the token is in <code>$RUNYARD_HOME/server.json</code>.
      </div>
    );
  }
  return (
    <div className="banner banner-warn" role="alert" data-testid="unreachable-banner">
      The runyard daemon is unreachable. Runs already started go on; this page reconnects by
      itself when it is back. (Start it with <code>runyard serve</code>.)
    </div>
  );
}
