import { describe, expect, it } from "vitest";
import { groupMetrics, keyMetric } from "./metricGroups";

describe("groupMetrics", () => {
  it("puts losses together, accuracies together and anything else alone", () => {
    const groups = groupMetrics(["lr", "test_loss", "train_accuracy", "train_loss", "val_acc", "grad_norm", "accumulate_steps"]);
    expect(groups.map((g) => [g.id, g.keys])).toEqual([
      ["losses", ["train_loss", "test_loss"]],
      ["accuracies", ["train_accuracy", "val_acc"]],
      ["metric:accumulate_steps", ["accumulate_steps"]],
      ["metric:grad_norm", ["grad_norm"]],
      ["metric:lr", ["lr"]],
    ]);
  });

  it("orders a group train, val, test", () => {
    expect(groupMetrics(["test_loss", "val_loss", "train_loss"])[0].keys).toEqual(["train_loss", "val_loss", "test_loss"]);
  });

  it("has no group for no metric", () => {
    expect(groupMetrics([])).toEqual([]);
  });
});

describe("keyMetric", () => {
  it.each([
    [["train_loss", "val_accuracy"], null, "val_accuracy"],
    [["train_loss", "lr"], null, "train_loss"],
    [["lr", "grad_norm"], null, "grad_norm"],
    [["lr", "train_loss"], "lr", "lr"],
    [[], null, null],
  ])("%j (sorted by %s) → %s", (keys, preferred, expected) => {
    expect(keyMetric(keys, preferred)).toBe(expected);
  });
});
