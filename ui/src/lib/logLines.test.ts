import { describe, expect, it } from "vitest";
import { LogBuffer, collapseRedraws, stripAnsi, utf8Length } from "./logLines";

const bytes = (text: string) => new TextEncoder().encode(text);
const texts = (buffer: LogBuffer) => Array.from({ length: buffer.length }, (_, i) => buffer.line(i).text);

describe("collapseRedraws", () => {
  it.each([
    ["plain", "plain"],
    ["\repoch 1:  20%\repoch 1:  40%\repoch 1: 100%", "epoch 1: 100%"],
    ["windows line\r", "windows line"],
    ["done\r\r", "done"],
    ["long bar\rshort", "short"],
    ["", ""],
  ])("%j → %j", (line, shown) => expect(collapseRedraws(line)).toBe(shown));
});

describe("LogBuffer", () => {
  it("keeps only the last redraw of each line, also across messages", () => {
    const log = new LogBuffer();
    log.appendText("start\n\repoch 1:  50%", 0);
    expect(texts(log)).toEqual(["start", "epoch 1:  50%"]);
    log.appendText("\repoch 1: 100%\nnext\n", utf8Length("start\n\repoch 1:  50%"));
    expect(texts(log)).toEqual(["start", "epoch 1: 100%", "next"]);
    expect(log.lines[1].start).toBe(6);
    expect(log.lines[2].start).toBe(utf8Length("start\n\repoch 1:  50%\repoch 1: 100%\n"));
  });

  it("counts byte offsets in UTF-8", () => {
    const log = new LogBuffer();
    log.appendText("héllo ✓\nx\n", 0);
    expect(log.lines[1].start).toBe(bytes("héllo ✓\n").length);
    expect(log.end).toBe(bytes("héllo ✓\nx\n").length);
  });

  it("cuts what overlaps the loaded tail and marks a skipped burst as a gap", () => {
    const log = new LogBuffer();
    log.appendText("a\nb\n", 0);
    log.appendText("b\nc\n", 2); // overlaps "b\n"
    expect(texts(log)).toEqual(["a", "b", "c"]);
    log.appendText("z\n", 100); // bytes 6..100 were skipped
    expect(log.lines[3]).toEqual({ start: 6, text: "", gapEnd: 100 });
    log.fillGap(6, bytes("d\ne\n"));
    expect(texts(log)).toEqual(["a", "b", "c", "d", "e", "z"]);
  });

  it("reads an earlier range in front, leaving out its cut first line", () => {
    const log = new LogBuffer();
    log.reset(10);
    log.appendText("line3\n", 10);
    log.prependBytes(bytes("ne1\nline2\n"), 0); // from byte 0: nothing is cut
    expect(texts(log)).toEqual(["ne1", "line2", "line3"]);
    const later = new LogBuffer();
    later.reset(12);
    later.appendText("line3\n", 12);
    later.prependBytes(bytes("ne1\nline2\n"), 2); // from byte 2: "ne1" is the end of a cut line
    expect(texts(later)).toEqual(["line2", "line3"]);
    expect(later.start).toBe(6);
    expect(later.hasEarlier).toBe(true);
  });

  it("keeps an endless redrawn line short", () => {
    const log = new LogBuffer();
    let offset = 0;
    for (let i = 0; i < 5000; i++) {
      const chunk = `\rstep ${i}/5000`;
      log.appendText(chunk, offset);
      offset += utf8Length(chunk);
    }
    expect(log.partial.length).toBeLessThan(9000);
    expect(log.line(0).text).toBe("step 4999/5000");
    expect(log.end).toBe(offset);
  });

  it("drops the oldest lines past its limit", () => {
    const log = new LogBuffer(3);
    log.appendText("1\n2\n3\n4\n5\n", 0);
    expect(texts(log)).toEqual(["3", "4", "5"]);
    expect(log.start).toBe(4);
  });

  it("searches without the colour codes", () => {
    const log = new LogBuffer();
    log.appendText("\x1b[31mError\x1b[0m: boom\nfine\nerror again\n", 0);
    expect(log.search("error")).toEqual([0, 2]);
    expect(stripAnsi("\x1b[1;32mok\x1b[0m")).toBe("ok");
  });
});
