import { describe, expect, it } from "vitest";
import { decodeQueueView, decodeRunIds, decodeRunView, encodeQueueView, encodeRunIds, encodeRunView, nextSort, runListQuery } from "./urlState";

describe("queue view in the URL", () => {
  it("round-trips filters and sort", () => {
    const view = { status: ["running" as const, "failed" as const], tag: ["a b", "c"], q: "resnet & co", sweep: "s1", sort: "-metric:val_loss:best" };
    expect(decodeQueueView(encodeQueueView(view))).toEqual(view);
  });

  it("leaves the defaults out of the link", () => {
    expect(encodeQueueView({ status: [], tag: [], q: "", sweep: null, sort: "-id" })).toBe("");
  });

  it("forgives what it cannot use", () => {
    const view = decodeQueueView("?status=running,bogus&sort=drop%20table&tag=");
    expect(view.status).toEqual(["running"]);
    expect(view.sort).toBe("-id");
    expect(view.tag).toEqual([]);
  });

  it("asks the API with repeated parameters and the cursor", () => {
    const query = runListQuery({ status: ["queued", "waiting"], tag: ["x"], q: "", sweep: null, sort: "name" }, 100, "abc");
    expect(query.getAll("status")).toEqual(["queued", "waiting"]);
    expect(query.get("cursor")).toBe("abc");
    expect(query.get("limit")).toBe("100");
  });

  it("cycles a column's sort: up, down, default", () => {
    expect(nextSort("-id", "name")).toBe("name");
    expect(nextSort("name", "name")).toBe("-name");
    expect(nextSort("-name", "name")).toBe("-id");
  });
});

describe("compare and run views in the URL", () => {
  it("keeps the picked runs, once each, in order", () => {
    expect(decodeRunIds(encodeRunIds([4, 2, 9]))).toEqual([4, 2, 9]);
    expect(decodeRunIds("?runs=3,x,3,-1,7")).toEqual([3, 7]);
    expect(encodeRunIds([])).toBe("");
  });

  it("round-trips the run page's tab, attempt, smoothing and scale", () => {
    const view = { tab: "log" as const, attempt: 2, smooth: 0.6, logScale: true };
    expect(decodeRunView(encodeRunView(view))).toEqual(view);
    expect(encodeRunView({ tab: "charts", attempt: null, smooth: 0, logScale: false })).toBe("");
    expect(decodeRunView("?tab=nope&smooth=7").tab).toBe("charts");
    expect(decodeRunView("?smooth=7").smooth).toBe(0.99);
  });
});
