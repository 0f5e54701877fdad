import { describe, expect, it } from "vitest";
import { makeRun, message } from "../test/fixtures";
import { applyRunMessage, initialRunState, type RunState } from "./runModel";

function started(): RunState {
  const [state] = applyRunMessage(initialRunState, message("state", { ...makeRun(5, { status: "running" }), log: { attempt: 1, size: 120 } }, 5));
  return state;
}

describe("applyRunMessage", () => {
  it("takes the run and the log size from state, and counts stream restarts", () => {
    const state = started();
    expect(state.run!.id).toBe(5);
    expect(state.log).toEqual({ attempt: 1, size: 120 });
    expect((state.run as unknown as Record<string, unknown>).log).toBeUndefined();
    expect(state.epoch).toBe(1);
    const [again] = applyRunMessage(state, message("state", { ...makeRun(5), log: null }, 5));
    expect(again.epoch).toBe(2);
  });

  it("turns metrics into points, latest values and progress", () => {
    const [state, effects] = applyRunMessage(started(), message("metrics", {
      points: [["loss", 10, 0.5], ["acc", 10, 80]], count: 2, progress: { epoch: 1, total_epochs: 4, step: 10, eta_s: 9, seconds_per_epoch: 3 },
    }, 5, 1));
    expect(effects.points).toHaveLength(2);
    expect(effects.refetchMetrics).toBe(false);
    expect(state.run!.metrics).toEqual({ loss: 0.5, acc: 80 });
    expect(state.run!.progress.step).toBe(10);
  });

  it("asks to re-read the series when a burst sent fewer points than it stored", () => {
    const [, effects] = applyRunMessage(started(), message("metrics", { points: [["loss", 99, 0.1]], count: 500, progress: null }, 5, 1));
    expect(effects.refetchMetrics).toBe(true);
  });

  it("passes log output on with its attempt and byte range", () => {
    const [, effects] = applyRunMessage(started(), message("log", { offset: 120, end: 130, skipped: 0, text: "epoch 1\n" }, 5, 1));
    expect(effects.log).toEqual({ attempt: 1, offset: 120, end: 130, skipped: 0, text: "epoch 1\n" });
  });

  it("adds each kind of warning once and merges final results", () => {
    let state = started();
    const warning = message("warning", { warning: "non_finite", line: 3, text: "loss nan", message: "a NaN" }, 5, 1);
    [state] = applyRunMessage(state, warning);
    [state] = applyRunMessage(state, warning);
    expect(state.run!.warnings.map((w) => w.kind)).toEqual(["non_finite"]);
    [state] = applyRunMessage(state, message("final", { accuracy: 91.5, accuracy_field: "val_accuracy" }, 5, 1));
    expect(state.run!.final.accuracy_field).toBe("val_accuracy");
  });

  it("marks the end and an unknown run", () => {
    const [ended] = applyRunMessage(started(), message("end", { status: "completed" }, 5));
    expect(ended.ended).toBe(true);
    const [missing] = applyRunMessage(initialRunState, message("error", { error: "not_found", detail: "run 9 not found" }, 9));
    expect(missing.error).toBe("run 9 not found");
  });
});
