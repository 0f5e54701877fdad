/// <reference types="vitest/config" />
// Builds the UI into the Python package's static folder, which the daemon serves at `/`
// (server/routes/ui.py) and the wheel ships, so `pip install` needs no Node.
// `npm run dev` serves it with live reload and forwards /api (HTTP and WebSocket) to a
// daemon: RUNYARD_URL, default http://127.0.0.1:8420 (open the dev page with ?token=…).
import { defineConfig } from "vite";

const daemon = process.env.RUNYARD_URL ?? "http://127.0.0.1:8420";

export default defineConfig({
  base: "/",
  esbuild: { jsx: "automatic" },
  build: {
    outDir: "../src/runyard/server/static",
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 800,
  },
  server: {
    proxy: { "/api": { target: daemon, ws: true, changeOrigin: true } },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
