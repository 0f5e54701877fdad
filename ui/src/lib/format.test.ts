import { describe, expect, it } from "vitest";
import { formatBytes, formatDuration, formatMetric } from "./format";

describe("format", () => {
  it.each([
    [null, "—"], [0.24, "0.2s"], [5, "5s"], [75, "1m 15s"], [3 * 3600 + 120, "3h 02m"], [50 * 3600, "2d 2h"],
  ])("duration %s → %s", (seconds, text) => expect(formatDuration(seconds)).toBe(text));

  it.each([
    [0.123456, "0.1235"], [94.35, "94.35"], [2, "2"], [1e-5, "1.00e-5"], ["NaN", "NaN"], [null, "—"],
  ])("metric %s → %s", (value, text) => expect(formatMetric(value)).toBe(text));

  it("sizes in binary units", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(50 * 1024)).toBe("50 KiB");
    expect(formatBytes(1.5 * 1024 * 1024)).toBe("1.5 MiB");
  });
});
