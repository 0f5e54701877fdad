import { describe, expect, it } from "vitest";
import { addPoint, alignSeries, fromApi } from "./series";
import { KeyMatcher } from "./keys";
import { compareRows } from "./compare";
import { makeRun } from "../test/fixtures";

describe("series", () => {
  it("reads non-finite values as gaps", () => {
    expect(fromApi([[1, 0.5], [2, "NaN"], [3, "Infinity"]])).toEqual({ xs: [1, 2, 3], ys: [0.5, null, null] });
  });

  it("adds live points in x order, replacing a point at the same x", () => {
    const s = { xs: [1, 3], ys: [1, 3] };
    addPoint(s, 4, 4);
    addPoint(s, 2, 2);
    addPoint(s, 3, 30);
    expect(s).toEqual({ xs: [1, 2, 3, 4], ys: [1, 2, 30, 4] });
  });

  it("aligns series with different x onto one axis", () => {
    const train = { xs: [1, 2, 3, 4], ys: [10, 20, 30, 40] };
    const val = { xs: [2, 4, 6], ys: [2, 4, 6] };
    expect(alignSeries([train, val])).toEqual([[1, 2, 3, 4, 6], [10, 20, 30, 40, null], [null, 2, null, 4, 6]]);
  });
});

describe("KeyMatcher", () => {
  const ran: string[] = [];
  const bindings = [
    { keys: "g q", description: "", run: () => ran.push("queue") },
    { keys: "g g", description: "", run: () => ran.push("gpus") },
    { keys: "c", description: "", run: () => ran.push("cancel") },
  ];
  it("matches single keys and two-key sequences within a second", () => {
    const keys = new KeyMatcher(() => bindings);
    expect(keys.feed("g", 0)).toBeNull();
    expect(keys.feed("q", 500)!.keys).toBe("g q");
    expect(keys.feed("g", 1000)).toBeNull();
    expect(keys.feed("g", 1100)!.keys).toBe("g g");
    expect(keys.feed("c", 1200)!.keys).toBe("c");
    expect(keys.feed("g", 2000)).toBeNull();
    expect(keys.feed("q", 3500)).toBeNull(); // too late
  });
});

describe("compareRows", () => {
  it("marks the rows whose values differ", () => {
    const rows = compareRows([makeRun(1, { env: { LR: "0.1" }, priority: 0 }), makeRun(2, { env: { LR: "0.3" }, priority: 0 })]);
    const row = (label: string) => rows.find((r) => r.label === label)!;
    expect(row("env LR")).toMatchObject({ values: ["0.1", "0.3"], differs: true });
    expect(row("priority").differs).toBe(false);
  });
});
