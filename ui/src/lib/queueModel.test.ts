import { describe, expect, it } from "vitest";
import { makeRun, message } from "../test/fixtures";
import { QueueModel, matchesFilters, noChanges } from "./queueModel";
import type { QueueFilters } from "./urlState";

const none: QueueFilters = { status: [], tag: [], q: "", sweep: null };

function loaded(filters = none, sort = "-id") {
  const model = new QueueModel(filters, sort);
  model.load([makeRun(3), makeRun(2), makeRun(1)], 3);
  return model;
}

describe("QueueModel", () => {
  it("updates a known run in place and names only its row as changed", () => {
    const model = loaded();
    const before = model.runs.get(1);
    const changes = model.apply(message("run", makeRun(2, { status: "running" }), 2));
    expect(model.runs.get(2)!.status).toBe("running");
    expect([...changes.rows]).toEqual([2]);
    expect(changes.order).toBe(false);
    expect(model.runs.get(1)).toBe(before); // untouched rows keep their object: no re-render
  });

  it("puts a new run at the top under the newest-first sort", () => {
    const model = loaded();
    const changes = model.apply(message("run", makeRun(4), 4));
    expect(model.order).toEqual([4, 3, 2, 1]);
    expect(model.total).toBe(4);
    expect(changes.order).toBe(true);
  });

  it("counts a new run it cannot place under another sort instead of guessing", () => {
    const model = loaded(none, "name");
    model.apply(message("run", makeRun(4), 4));
    expect(model.order).toEqual([3, 2, 1]);
    expect(model.pendingNew).toBe(1);
  });

  it("ignores a change of a run beyond the loaded pages (not new, not shown)", () => {
    const model = new QueueModel(none, "-id");
    model.load([makeRun(10), makeRun(9)], 10);
    const changes = model.apply(message("run", makeRun(3, { status: "running" }), 3));
    expect(model.order).toEqual([10, 9]);
    expect(model.pendingNew).toBe(0);
    expect(changes.rows.size).toBe(0);
  });

  it("drops a run that no longer matches the status filter", () => {
    const model = new QueueModel({ ...none, status: ["queued"] }, "-id");
    model.load([makeRun(2), makeRun(1)], 2);
    const changes = model.apply(message("run", makeRun(1, { status: "running" }), 1));
    expect(model.order).toEqual([2]);
    expect(changes.order).toBe(true);
  });

  it("applies progress to the run's progress and latest metrics", () => {
    const model = loaded();
    model.apply(message("progress", { progress: { epoch: 2, total_epochs: 10, step: null, eta_s: 30, seconds_per_epoch: 4 }, metrics: { loss: 0.5 } }, 3));
    const run = model.runs.get(3)!;
    expect(run.progress.epoch).toBe(2);
    expect(run.metrics.loss).toBe(0.5);
  });

  it("removes deleted runs and keeps counts and GPUs from the stream", () => {
    const model = loaded();
    const changes = noChanges();
    model.apply(message("deleted", {}, 2), changes);
    model.apply(message("counts", { queued: 7 }), changes);
    model.apply(message("gpus", { source: "declared", gpus: [{ index: 0 }] }), changes);
    expect(model.order).toEqual([3, 1]);
    expect(model.liveCounts).toEqual({ queued: 7 });
    expect(model.gpus).toHaveLength(1);
    expect(changes.order && changes.counts && changes.gpus).toBe(true);
  });

  it("asks for a resync when the stream restarts with a second state", () => {
    const model = loaded();
    const state = { counts: {}, runs: [makeRun(1, { status: "running" })], truncated: false, gpus: { gpus: [] } };
    expect(model.apply(message("state", state)).resync).toBe(false);
    expect(model.runs.get(1)!.status).toBe("running");
    expect(model.apply(message("state", state)).resync).toBe(true);
  });
});

describe("matchesFilters", () => {
  const run = makeRun(1, { name: "ResNet sweep", tags: ["a", "b"], status: "running", display_command: "python x.py" });
  it.each([
    [{ ...none }, true],
    [{ ...none, status: ["running" as const] }, true],
    [{ ...none, status: ["failed" as const] }, false],
    [{ ...none, tag: ["b", "z"] }, true],
    [{ ...none, tag: ["z"] }, false],
    [{ ...none, q: "resnet" }, true],
    [{ ...none, q: "X.PY" }, true],
    [{ ...none, q: "vit" }, false],
    [{ ...none, sweep: "s1" }, false],
  ])("%o → %s", (filters, expected) => {
    expect(matchesFilters(run, filters)).toBe(expected);
  });
});
