import { describe, expect, it } from "vitest";
import { buildSpec, emptyForm, formFieldOf, formFromSpec, parseDurationS, parseMemoryMib, shellJoin, shellSplit, type SubmitForm } from "./spec";

const form = (patch: Partial<SubmitForm>): SubmitForm => ({ ...emptyForm(), command: "python train.py", workdir: "/work", ...patch });

describe("shellSplit", () => {
  it.each([
    ["python train.py --lr 3e-4", ["python", "train.py", "--lr", "3e-4"]],
    [`python -c 'print("a b")'`, ["python", "-c", 'print("a b")']],
    [`echo "x \\"y\\"" z\\ w`, ["echo", 'x "y"', "z w"]],
    [`a ''`, ["a", ""]],
  ])("%s", (line, argv) => expect(shellSplit(line)).toEqual(argv));

  it("refuses an unclosed quote", () => expect(() => shellSplit("echo 'oops")).toThrow(/quote/));

  it("joins back what it splits", () => {
    const argv = ["python", "-c", "print('hi there')", "--x=1"];
    expect(shellSplit(shellJoin(argv))).toEqual(argv);
  });
});

describe("buildSpec", () => {
  it("turns a full form into the API's run spec", () => {
    const { spec, errors } = buildSpec(form({
      name: "r1", gpus: "1-4", gpu_mem: "10G", priority: "5", retries: "2", retry_on: "oom", timeout: "1h30m",
      env: "LR=3e-4\nEMPTY=", after: "3, #4", swaps: "/a/b.yaml:config.yaml", tags: "x, y z", oom_batch_env: "BATCH", oom_grow_mem: "1.5",
      metric_patterns: "iter (?P<step>\\d+)",
    }));
    expect(errors).toEqual({});
    expect(spec).toEqual({
      command: ["python", "train.py"], workdir: "/work", name: "r1", gpus_min: 1, gpus_max: 4, gpu_mem_mib: 10240,
      priority: 5, retries: 2, retry_on: "oom", timeout_s: 5400, env: { LR: "3e-4", EMPTY: "" }, after: [3, 4],
      swaps: [{ source: "/a/b.yaml", target: "config.yaml" }], tags: ["x", "y z"], oom: { batch_env: "BATCH", grow_mem: 1.5 },
      metric_patterns: ["iter (?P<step>\\d+)"],
    });
  });

  it("sends a shell line as one string", () => {
    expect(buildSpec(form({ command: "a && b", shell: true })).spec).toMatchObject({ command: ["a && b"], shell: true });
  });

  it.each<[Partial<SubmitForm>, keyof SubmitForm]>([
    [{ command: "  " }, "command"],
    [{ workdir: "relative/dir" }, "workdir"],
    [{ gpus: "4-1" }, "gpus"],
    [{ gpus: "two" }, "gpus"],
    [{ gpu_ids: "1,1" }, "gpu_ids"],
    [{ gpus: "1", gpu_ids: "0,1" }, "gpu_ids"],
    [{ gpu_mem: "lots" }, "gpu_mem"],
    [{ priority: "1.5" }, "priority"],
    [{ retries: "101" }, "retries"],
    [{ timeout: "soon" }, "timeout"],
    [{ env: "NOT A PAIR" }, "env"],
    [{ after: "x" }, "after"],
    [{ swaps: "nocolon" }, "swaps"],
    [{ oom_grow_mem: "40" }, "oom_grow_mem"],
    [{ name: "n".repeat(201) }, "name"],
  ])("refuses %o in %s", (patch, field) => {
    const { spec, errors } = buildSpec(form(patch));
    expect(spec).toBeNull();
    expect(Object.keys(errors)).toEqual([field]);
  });

  it("reads memory and durations as the CLI does", () => {
    expect(parseMemoryMib("512")).toBe(512);
    expect(parseMemoryMib("1.5GiB")).toBe(1536);
    expect(parseDurationS("90")).toBe(90);
    expect(parseDurationS("2h")).toBe(7200);
  });
});

describe("API errors next to their field", () => {
  it.each([
    ["workdir", "workdir"], ["command.0", "command"], ["gpus_min", "gpus"], ["gpu_mem_mib", "gpu_mem"],
    ["timeout_s", "timeout"], ["oom.grow_mem", "oom_grow_mem"], ["env", "env"], ["bogus", null], [null, null],
  ])("%s → %s", (field, expected) => expect(formFieldOf(field)).toBe(expected));

  it("fills the form back from a run's spec", () => {
    const back = formFromSpec({ command: ["python", "t.py", "a b"], workdir: "/w", gpus_min: 1, gpus_max: 2, gpu_mem_mib: 2048, env: { A: "1" }, tags: ["t"], retries: 1 });
    expect(buildSpec(back).spec).toMatchObject({ command: ["python", "t.py", "a b"], gpus_min: 1, gpus_max: 2, gpu_mem_mib: 2048, env: { A: "1" }, tags: ["t"], retries: 1 });
  });
});
