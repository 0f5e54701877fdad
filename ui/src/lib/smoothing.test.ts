import { describe, expect, it } from "vitest";
import { smooth } from "./smoothing";

describe("smooth", () => {
  it("leaves values alone at weight 0, non-finite ones as gaps", () => {
    expect(smooth([1, NaN, 3, null], 0)).toEqual([1, null, 3, null]);
  });

  it("is debiased: a constant series stays constant from the first point", () => {
    expect(smooth([5, 5, 5, 5], 0.9).map((v) => Math.round(v! * 1e9) / 1e9)).toEqual([5, 5, 5, 5]);
  });

  it("follows a step slowly, more slowly with a larger weight", () => {
    const light = smooth([0, 0, 10, 10], 0.5);
    const heavy = smooth([0, 0, 10, 10], 0.9);
    expect(light[2]!).toBeGreaterThan(heavy[2]!);
    expect(light[3]!).toBeLessThan(10);
  });

  it("keeps gaps without resetting the average", () => {
    const out = smooth([2, null, 2], 0.5);
    expect(out[1]).toBeNull();
    expect(out[2]).toBeCloseTo(2);
  });
});
