// The Submit form: its fields as typed, checked before sending, turned into the API's run
// spec (the OpenAPI schema RunSpec; the same rules as domain/spec.py), and the API's
// `field` of an error mapped back to the form field it belongs to.

export interface SubmitForm {
  name: string;
  command: string;
  shell: boolean;
  workdir: string;
  gpus: string;
  gpu_ids: string;
  gpu_mem: string;
  priority: string;
  retries: string;
  retry_on: "any" | "oom" | "never";
  timeout: string;
  env: string;
  after: string;
  after_any: string;
  swaps: string;
  tags: string;
  setup: string;
  sweep: string;
  oom_batch_env: string;
  oom_grow_mem: string;
  metric_patterns: string;
}

export type FormErrors = Partial<Record<keyof SubmitForm | "form", string>>;

export function emptyForm(): SubmitForm {
  return {
    name: "", command: "", shell: false, workdir: "", gpus: "", gpu_ids: "", gpu_mem: "",
    priority: "0", retries: "0", retry_on: "any", timeout: "", env: "", after: "", after_any: "",
    swaps: "", tags: "", setup: "", sweep: "", oom_batch_env: "", oom_grow_mem: "", metric_patterns: "",
  };
}

/** Splits a command line into argv as a POSIX shell would (quotes, backslashes), no expansion. */
export function shellSplit(text: string): string[] {
  const args: string[] = [];
  let current = "";
  let inArg = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote === "'") {
      if (ch === "'") quote = null;
      else current += ch;
    } else if (quote === '"') {
      if (ch === '"') quote = null;
      else if (ch === "\\" && i + 1 < text.length && '"\\$`\n'.includes(text[i + 1])) current += text[++i];
      else current += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inArg = true;
    } else if (ch === "\\" && i + 1 < text.length) {
      if (text[i + 1] !== "\n") current += text[i + 1];
      i += 1;
      inArg = true;
    } else if (/\s/.test(ch)) {
      if (inArg) args.push(current);
      current = "";
      inArg = false;
    } else {
      current += ch;
      inArg = true;
    }
  }
  if (quote) throw new Error(`an unclosed ${quote} quote`);
  if (inArg) args.push(current);
  return args;
}

/** Quotes argv back into one line (for "submit like" and display). */
export function shellJoin(argv: string[]): string {
  return argv.map((a) => (a !== "" && /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'"'"'`)}'`)).join(" ");
}

const MEMORY = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i;
const MEMORY_FACTOR: Record<string, number> = { "": 1, k: 1 / 1024, m: 1, g: 1024, t: 1024 * 1024 };

export function parseMemoryMib(text: string): number {
  const match = MEMORY.exec(text);
  if (!match) throw new Error("write e.g. 10G or 512M");
  const mib = Number(match[1]) * MEMORY_FACTOR[match[2].toLowerCase()];
  if (!(mib > 0)) throw new Error("must be positive");
  return Math.max(1, Math.round(mib));
}

const DURATION_PART = /(\d+(?:\.\d+)?)([dhms]?)/gi;
const DURATION_FACTOR: Record<string, number> = { d: 86400, h: 3600, m: 60, s: 1, "": 1 };

export function parseDurationS(text: string): number {
  const cleaned = text.replace(/\s+/g, "");
  const parts = [...cleaned.matchAll(DURATION_PART)];
  if (!cleaned || parts.map((p) => p[0]).join("") !== cleaned) throw new Error("write e.g. 2h, 30m, 1h30m or 90s");
  const seconds = parts.reduce((sum, p) => sum + Number(p[1]) * DURATION_FACTOR[p[2].toLowerCase()], 0);
  if (!(seconds > 0)) throw new Error("must be positive");
  return seconds;
}

function integer(text: string, min: number, max: number): number {
  const value = Number(text.trim());
  if (text.trim() === "" || !Number.isInteger(value)) throw new Error("a whole number");
  if (value < min || value > max) throw new Error(`between ${min} and ${max}`);
  return value;
}

function lines(text: string): string[] {
  return text.split("\n").map((l) => l.trim()).filter(Boolean);
}

function runIds(text: string): number[] {
  const ids = text.split(/[\s,]+/).filter(Boolean).map((t) => {
    const id = Number(t.replace(/^#/, ""));
    if (!Number.isInteger(id) || id < 1) throw new Error(`${t} is not a run id`);
    return id;
  });
  return [...new Set(ids)];
}

/** Checks the form; the spec to send when there is no error. */
export function buildSpec(form: SubmitForm): { spec: Record<string, unknown> | null; errors: FormErrors } {
  const errors: FormErrors = {};
  const spec: Record<string, unknown> = {};
  const check = (field: keyof SubmitForm, fill: () => void) => {
    try {
      fill();
    } catch (error) {
      errors[field] = (error as Error).message;
    }
  };

  check("command", () => {
    if (!form.command.trim()) throw new Error("what to run, e.g. python train.py --lr 3e-4");
    if (form.command.includes("\0")) throw new Error("must not contain a NUL byte");
    if (form.shell) {
      spec.command = [form.command.trim()];
      spec.shell = true;
    } else {
      const argv = shellSplit(form.command.trim());
      if (!argv.length || argv.some((a) => a === "")) throw new Error("an empty argument: remove the empty quotes");
      spec.command = argv;
    }
  });
  check("workdir", () => {
    const dir = form.workdir.trim();
    if (!dir) throw new Error("the directory to run in (absolute)");
    if (!dir.startsWith("/")) throw new Error("must be an absolute path (start with /)");
    spec.workdir = dir;
  });
  check("name", () => {
    if (form.name.length > 200) throw new Error("at most 200 characters");
    if (form.name.trim()) spec.name = form.name.trim();
  });
  check("sweep", () => {
    if (form.sweep.length > 200) throw new Error("at most 200 characters");
    if (form.sweep.trim()) spec.sweep = form.sweep.trim();
  });
  check("gpus", () => {
    const text = form.gpus.trim();
    if (!text) return;
    const match = /^(\d+)\s*(?:-\s*(\d+))?$/.exec(text);
    if (!match) throw new Error("a count (2) or a range (1-4); 0 for a CPU run");
    const low = Number(match[1]);
    const high = match[2] != null ? Number(match[2]) : low;
    if (high < low) throw new Error(`the range must go up (write ${high}-${low})`);
    if (high > 4096) throw new Error("at most 4096");
    spec.gpus_min = low;
    spec.gpus_max = high;
  });
  check("gpu_ids", () => {
    const text = form.gpu_ids.trim();
    if (!text) return;
    const ids = text.split(/[\s,]+/).filter(Boolean).map((t) => integer(t, 0, 4096));
    if (new Set(ids).size !== ids.length) throw new Error("distinct indices, like 1,3");
    if (spec.gpus_min != null && (spec.gpus_min !== ids.length || spec.gpus_max !== ids.length)) {
      throw new Error("pinned GPUs fix the count: leave GPUs empty or give the same count");
    }
    spec.gpu_ids = ids.sort((a, b) => a - b);
  });
  check("gpu_mem", () => {
    if (form.gpu_mem.trim()) spec.gpu_mem_mib = parseMemoryMib(form.gpu_mem);
  });
  check("priority", () => {
    spec.priority = form.priority.trim() ? integer(form.priority, -1_000_000, 1_000_000) : 0;
  });
  check("retries", () => {
    spec.retries = form.retries.trim() ? integer(form.retries, 0, 100) : 0;
  });
  spec.retry_on = form.retry_on;
  check("timeout", () => {
    if (form.timeout.trim()) spec.timeout_s = parseDurationS(form.timeout);
  });
  check("env", () => {
    const env: Record<string, string> = {};
    for (const line of lines(form.env)) {
      const at = line.indexOf("=");
      const key = at < 0 ? "" : line.slice(0, at);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`${line}: write KEY=VALUE, one a line`);
      env[key] = line.slice(at + 1);
    }
    if (Object.keys(env).length) spec.env = env;
  });
  check("after", () => {
    const ids = runIds(form.after);
    if (ids.length) spec.after = ids;
  });
  check("after_any", () => {
    const ids = runIds(form.after_any);
    if (ids.length) spec.after_any = ids;
  });
  check("swaps", () => {
    const swaps = lines(form.swaps).map((line) => {
      const at = line.indexOf(":");
      if (at <= 0 || at === line.length - 1) throw new Error(`${line}: write SOURCE:TARGET, one a line`);
      return { source: line.slice(0, at), target: line.slice(at + 1) };
    });
    if (swaps.length) spec.swaps = swaps;
  });
  check("tags", () => {
    const tags = [...new Set(form.tags.split(/[,\n]+/).map((t) => t.trim()).filter(Boolean))];
    const long = tags.find((t) => t.length > 200);
    if (long) throw new Error(`a tag is at most 200 characters`);
    if (tags.length) spec.tags = tags;
  });
  if (form.setup.trim()) spec.setup = form.setup.trim();
  const oom: Record<string, unknown> = {};
  check("oom_batch_env", () => {
    const name = form.oom_batch_env.trim();
    if (!name) return;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error("an environment variable name, like BATCH_SIZE");
    oom.batch_env = name;
  });
  check("oom_grow_mem", () => {
    const text = form.oom_grow_mem.trim();
    if (!text) return;
    const factor = Number(text);
    if (!Number.isFinite(factor) || factor < 1 || factor > 16) throw new Error("a factor from 1 to 16, like 1.5");
    oom.grow_mem = factor;
  });
  if (Object.keys(oom).length) spec.oom = oom;
  const patterns = lines(form.metric_patterns);
  if (patterns.length) spec.metric_patterns = patterns;

  return { spec: Object.keys(errors).length ? null : spec, errors };
}

const API_FIELDS: Record<string, keyof SubmitForm> = {
  gpus_min: "gpus", gpus_max: "gpus", gpus: "gpus", gpu_mem_mib: "gpu_mem", gpu_mem: "gpu_mem",
  timeout_s: "timeout", "oom.batch_env": "oom_batch_env", "oom.grow_mem": "oom_grow_mem", oom: "oom_batch_env",
  base_env: "env",
};

/** The form field an API error's `field` (e.g. "command.0", "gpu_mem_mib") belongs to, or null. */
export function formFieldOf(apiField: string | null): keyof SubmitForm | null {
  if (!apiField) return null;
  if (API_FIELDS[apiField]) return API_FIELDS[apiField];
  const parts = apiField.split(".");
  const two = parts.slice(0, 2).join(".");
  if (API_FIELDS[two]) return API_FIELDS[two];
  const first = parts[0];
  if (API_FIELDS[first]) return API_FIELDS[first];
  return first in emptyForm() ? (first as keyof SubmitForm) : null;
}

/** The form filled from an existing run's spec ("submit like #42"). */
export function formFromSpec(spec: Record<string, any>): SubmitForm {
  const form = emptyForm();
  const command: string[] = spec.command ?? [];
  form.shell = Boolean(spec.shell);
  form.command = form.shell ? (command[0] ?? "") : shellJoin(command);
  form.workdir = spec.workdir ?? "";
  form.name = spec.name ?? "";
  form.sweep = spec.sweep ?? "";
  if (spec.gpu_ids) form.gpu_ids = spec.gpu_ids.join(",");
  else if (spec.gpus_min != null) {
    form.gpus = spec.gpus_min === spec.gpus_max ? String(spec.gpus_min) : `${spec.gpus_min}-${spec.gpus_max}`;
  }
  if (spec.gpu_mem_mib) form.gpu_mem = spec.gpu_mem_mib % 1024 === 0 ? `${spec.gpu_mem_mib / 1024}G` : `${spec.gpu_mem_mib}M`;
  form.priority = String(spec.priority ?? 0);
  form.retries = String(spec.retries ?? 0);
  form.retry_on = spec.retry_on ?? "any";
  if (spec.timeout_s) form.timeout = `${spec.timeout_s}s`;
  form.env = Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`).join("\n");
  form.after = (spec.after ?? []).join(" ");
  form.after_any = (spec.after_any ?? []).join(" ");
  form.swaps = (spec.swaps ?? []).map((s: { source: string; target: string }) => `${s.source}:${s.target}`).join("\n");
  form.tags = (spec.tags ?? []).join(", ");
  form.setup = spec.setup ?? "";
  form.oom_batch_env = spec.oom?.batch_env ?? "";
  form.oom_grow_mem = spec.oom?.grow_mem != null ? String(spec.oom.grow_mem) : "";
  form.metric_patterns = (spec.metric_patterns ?? []).join("\n");
  return form;
}
