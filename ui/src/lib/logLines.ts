// The log viewer's model: a window of an attempt's output, as display lines.
//
// Bytes arrive two ways: live `log` messages appended at the end (`offset` … `end` in the
// attempt's output.log) and ranges read through the API (earlier parts, or a gap a burst
// skipped). A line is what ends at "\n"; inside a line, "\r" starts a progress-bar redraw,
// and only the last redraw is shown (as a terminal would leave it). Byte offsets are kept
// per line so that an earlier range can be asked for exactly.

/** A display line: text, or a gap of bytes not loaded (`gapEnd` set) that can be asked for. */
export interface LogLine {
  start: number;
  text: string;
  gapEnd?: number;
}

/** The text a terminal leaves of one line after its "\r" redraws. */
export function collapseRedraws(line: string): string {
  let end = line.length;
  while (end > 0 && line.charCodeAt(end - 1) === 13) end -= 1; // "\r\n" and a trailing "\r"
  const body = end === line.length ? line : line.slice(0, end);
  const cut = body.lastIndexOf("\r");
  return cut < 0 ? body : body.slice(cut + 1);
}

/** UTF-8 length of a string, without encoding it. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      bytes += 4;
      i += 1;
    } else bytes += 3;
  }
  return bytes;
}

const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*(\x07|\x1b\\)/g;

export function stripAnsi(text: string): string {
  return text.indexOf("\x1b") < 0 ? text : text.replace(ANSI, "");
}

const decoder = () => new TextDecoder("utf-8", { fatal: false });

export class LogBuffer {
  lines: LogLine[] = [];
  /** The unfinished last line (raw, redraws and all; kept short by collapsing). */
  partial = "";
  partialStart = 0;
  /** Bytes covered: [start, end). */
  start = 0;
  end = 0;
  /** Bumped on every change, for React. */
  version = 0;

  constructor(readonly maxLines = 200_000) {}

  get length(): number {
    return this.lines.length + (this.partial ? 1 : 0);
  }

  line(index: number): LogLine {
    if (index < this.lines.length) return this.lines[index];
    return { start: this.partialStart, text: collapseRedraws(this.partial) };
  }

  /** Whether output before the first loaded byte exists. */
  get hasEarlier(): boolean {
    return this.start > 0;
  }

  /** Starts the window at `offset` (e.g. the tail of a long log), empty. */
  reset(offset: number): void {
    this.lines = [];
    this.partial = "";
    this.start = this.end = this.partialStart = offset;
    this.version += 1;
  }

  /** Appends output that begins at byte `offset`; a jump past `end` leaves a gap line. */
  appendText(text: string, offset: number): void {
    if (offset < this.end) {
      // Overlaps what is loaded (the tail was read while the stream already ran): keep the new part.
      const bytes = new TextEncoder().encode(text);
      const skip = this.end - offset;
      if (skip >= bytes.length) return;
      text = decoder().decode(bytes.subarray(skip));
      offset = this.end;
    }
    if (offset > this.end) {
      this.finishPartial();
      this.lines.push({ start: this.end, text: "", gapEnd: offset });
      this.end = this.partialStart = offset;
    }
    let from = 0;
    let pos = offset; // the byte offset of text[from]
    for (;;) {
      const newline = text.indexOf("\n", from);
      if (newline < 0) break;
      const segment = text.slice(from, newline);
      const start = this.partial ? this.partialStart : pos;
      this.lines.push({ start, text: collapseRedraws(this.partial + segment) });
      pos += utf8Length(segment) + 1;
      this.partial = "";
      from = newline + 1;
    }
    const rest = text.slice(from);
    if (!this.partial) this.partialStart = pos;
    this.partial = compactPartial(this.partial + rest);
    this.end = pos + utf8Length(rest);
    this.trim();
    this.version += 1;
  }

  appendBytes(bytes: Uint8Array, offset: number): void {
    this.appendText(decoder().decode(bytes), offset);
  }

  /** Puts the bytes [from, this.start) in front; a cut first line (from > 0) is left for later. */
  prependBytes(bytes: Uint8Array, from: number): void {
    let skip = 0;
    if (from > 0) {
      const newline = bytes.indexOf(10);
      if (newline < 0) return; // no whole line in it: nothing to show yet
      skip = newline + 1;
    }
    const body = bytes.subarray(skip, bytes.length);
    const text = decoder().decode(body);
    const lines: LogLine[] = [];
    let offset = from + skip;
    const parts = text.split("\n");
    // The range ends where the loaded part starts, at a line start: the last part is empty.
    if (parts.length && parts[parts.length - 1] === "") parts.pop();
    for (const part of parts) {
      lines.push({ start: offset, text: collapseRedraws(part) });
      offset += utf8Length(part) + 1;
    }
    this.lines = lines.concat(this.lines);
    this.start = from + skip;
    this.version += 1;
  }

  /** Replaces the gap that starts at byte `start` with the bytes it stood for (the
   *  stream's bursts keep a tail from a line start, so the gap ends at one). */
  fillGap(start: number, bytes: Uint8Array): void {
    const index = this.lines.findIndex((line) => line.gapEnd != null && line.start === start);
    const gap = this.lines[index];
    if (!gap || gap.gapEnd == null) return;
    if (bytes.length > gap.gapEnd - gap.start) bytes = bytes.subarray(0, gap.gapEnd - gap.start);
    const text = decoder().decode(bytes);
    const parts = text.split("\n");
    if (parts.length && parts[parts.length - 1] === "") parts.pop();
    let offset = gap.start;
    const lines = parts.map((part) => {
      const line = { start: offset, text: collapseRedraws(part) };
      offset += utf8Length(part) + 1;
      return line;
    });
    this.lines.splice(index, 1, ...lines);
    this.version += 1;
  }

  /** Indices of lines whose text (colours left out) contains `needle`, case-insensitive. */
  search(needle: string): number[] {
    if (!needle) return [];
    const lower = needle.toLowerCase();
    const found: number[] = [];
    for (let i = 0; i < this.length; i++) {
      if (stripAnsi(this.line(i).text).toLowerCase().includes(lower)) found.push(i);
    }
    return found;
  }

  private finishPartial(): void {
    if (!this.partial) return;
    this.lines.push({ start: this.partialStart, text: collapseRedraws(this.partial) });
    this.partial = "";
  }

  private trim(): void {
    const over = this.lines.length - this.maxLines;
    if (over <= 0) return;
    this.lines.splice(0, over);
    this.start = this.lines[0]?.start ?? this.partialStart;
  }
}

/** Keeps a long-redrawn unfinished line short: what a terminal would still show of it. */
function compactPartial(raw: string): string {
  if (raw.length < 8192) return raw;
  const trailing = raw.endsWith("\r") ? "\r" : "";
  return `\r${collapseRedraws(raw)}${trailing}`;
}
