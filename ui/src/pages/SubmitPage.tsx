// Submit: a form for everything `runyard submit` takes, checked before it is sent; the
// API's own error (`{error, detail, field}`) is shown next to the field it names.
import { useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { api, ApiError } from "../api/client";
import { navigate, useLocation } from "../app/router";
import { notify } from "../app/toasts";
import { buildSpec, emptyForm, formFieldOf, formFromSpec, shellSplit, type FormErrors, type SubmitForm } from "../lib/spec";

const LAST_WORKDIR = "runyard.lastWorkdir";

export function SubmitPage() {
  const { search } = useLocation();
  const like = Number(new URLSearchParams(search).get("like")) || null;
  const [form, setForm] = useState<SubmitForm>(() => ({ ...emptyForm(), workdir: localStorage.getItem(LAST_WORKDIR) ?? "" }));
  const [errors, setErrors] = useState<FormErrors>({});
  const [sending, setSending] = useState(false);
  const [touched, setTouched] = useState(false);
  const first = useRef<HTMLInputElement>(null);

  useEffect(() => first.current?.focus(), []);
  useEffect(() => {
    if (!like) return;
    api.run(like).then((run) => {
      setForm({ ...formFromSpec(run.spec), name: run.name ? `${run.name} (again)` : "" });
    }, (e) => notify(`could not read run #${like}: ${(e as Error).message}`, "error"));
  }, [like]);

  const set = <K extends keyof SubmitForm>(key: K, value: SubmitForm[K]) => {
    const next = { ...form, [key]: value };
    setForm(next);
    if (touched) setErrors(buildSpec(next).errors); // once tried, errors follow the typing
  };

  const submit = async () => {
    setTouched(true);
    const { spec, errors: found } = buildSpec(form);
    setErrors(found);
    if (!spec) return;
    setSending(true);
    try {
      const run = await api.submit(spec);
      localStorage.setItem(LAST_WORKDIR, form.workdir.trim());
      notify(`run #${run.id} submitted`);
      navigate(`/runs/${run.id}`);
    } catch (error) {
      const e = error as ApiError;
      const field = formFieldOf(e.field);
      setErrors({ [field ?? "form"]: e.detail ?? String(error) });
    } finally {
      setSending(false);
    }
  };

  const argv = useMemo(() => {
    if (form.shell || !form.command.trim()) return null;
    try {
      return shellSplit(form.command);
    } catch {
      return null;
    }
  }, [form.command, form.shell]);

  const text = (key: keyof SubmitForm, props: { placeholder?: string; mono?: boolean; short?: boolean } = {}) => (
    <input ref={key === "command" ? first : undefined} type="text" id={`f-${key}`} name={key} value={form[key] as string}
           className={`${errors[key] ? "invalid" : ""}${props.mono ? " mono" : ""}${props.short ? " short" : ""}`} placeholder={props.placeholder}
           aria-invalid={Boolean(errors[key])} aria-describedby={errors[key] ? `e-${key}` : undefined}
           onChange={(e) => set(key, e.target.value as never)} spellCheck={false} autoComplete="off" />
  );
  const area = (key: keyof SubmitForm, placeholder: string, rows = 2) => (
    <textarea id={`f-${key}`} name={key} value={form[key] as string} rows={rows} placeholder={placeholder}
              className={errors[key] ? "invalid" : ""} aria-invalid={Boolean(errors[key])}
              onChange={(e) => set(key, e.target.value as never)} spellCheck={false} />
  );

  return (
    <div className="page">
      <h1>{like ? `Submit a run like #${like}` : "Submit a run"}</h1>
      <form className="form" noValidate
            onSubmit={(e) => { e.preventDefault(); void submit(); }}
            onKeyDown={(e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); void submit(); } }}>
        {errors.form ? <div className="error-box" role="alert" style={{ gridColumn: "1 / -1" }} data-testid="form-error">{errors.form}</div> : null}

        <div className="form-section">What to run</div>
        <Field name="command" label="Command" error={errors.command}
               hint={form.shell ? "one shell line, run with /bin/sh -c" : "split into arguments as a shell would (quotes work), then exec'd as is — no shell"}>
          {text("command", { placeholder: "python train.py --lr 3e-4", mono: true })}
          {argv && argv.length ? <div className="argv" aria-label="Arguments">{argv.map((a, i) => <code key={i}>{a}</code>)}</div> : null}
          <label className="row gap" style={{ marginTop: 4 }}>
            <input type="checkbox" checked={form.shell} onChange={(e) => set("shell", e.target.checked)} /> run through a shell (for <code>a &amp;&amp; b</code>, pipes)
          </label>
        </Field>
        <Field name="workdir" label="Working directory" error={errors.workdir} hint="absolute; must exist on the daemon's machine">
          {text("workdir", { placeholder: "/home/me/project", mono: true })}
        </Field>
        <Field name="name" label="Name" error={errors.name} hint="shown in the queue; the command when empty">{text("name", { placeholder: "resnet50 lr=3e-4" })}</Field>
        <Field name="setup" label="Setup" error={errors.setup} hint="a shell line run before the command, e.g. source .venv/bin/activate">{text("setup", { mono: true })}</Field>

        <div className="form-section">GPUs and limits</div>
        <Field name="gpus" label="GPUs" error={errors.gpus ?? errors.gpu_ids ?? errors.gpu_mem}
               hint="a count (2), a range (1-4: start once 1 is free, take up to 4), 0 for a CPU run; or pin indices; memory lets runs share a GPU">
          <div className="inline">
            <span>count {text("gpus", { placeholder: "1" })}</span>
            <span>pin {text("gpu_ids", { placeholder: "1,3" })}</span>
            <span>memory {text("gpu_mem", { placeholder: "10G" })}</span>
          </div>
        </Field>
        <Field name="timeout" label="Timeout" error={errors.timeout} hint="e.g. 2h, 30m, 1h30m; empty: none">{text("timeout", { placeholder: "2h", short: true })}</Field>

        <div className="form-section">Queue and retries</div>
        <Field name="priority" label="Priority" error={errors.priority} hint="higher starts first">{text("priority", { short: true })}</Field>
        <Field name="retries" label="Retries" error={errors.retries ?? errors.oom_batch_env ?? errors.oom_grow_mem}
               hint="on out-of-memory, halve a batch-size variable and/or grow the GPU memory asked for">
          <div className="inline">
            <span>{text("retries", { short: true })}</span>
            <span>on{" "}
              <select name="retry_on" value={form.retry_on} onChange={(e) => set("retry_on", e.target.value as SubmitForm["retry_on"])}>
                <option value="any">any failure</option>
                <option value="oom">out of memory only</option>
                <option value="never">never</option>
              </select>
            </span>
            <span>OOM: halve {text("oom_batch_env", { placeholder: "BATCH_SIZE" })}</span>
            <span>grow memory × {text("oom_grow_mem", { placeholder: "1.5" })}</span>
          </div>
        </Field>
        <Field name="after" label="After" error={errors.after} hint="run ids that must complete first (space or comma separated)">{text("after", { placeholder: "41 42", short: true })}</Field>
        <Field name="after_any" label="After any end" error={errors.after_any} hint="run ids that must end first, however they end">{text("after_any", { short: true })}</Field>

        <div className="form-section">Environment and files</div>
        <Field name="env" label="Environment" error={errors.env} hint="KEY=VALUE, one a line">{area("env", "LR=3e-4\nBATCH_SIZE=64", 3)}</Field>
        <Field name="swaps" label="Swaps" error={errors.swaps} hint="SOURCE:TARGET, one a line: SOURCE put in place of TARGET (relative to the workdir) for this run only">{area("swaps", "/data/configs/big.yaml:config.yaml")}</Field>

        <div className="form-section">Tags and metrics</div>
        <Field name="tags" label="Tags" error={errors.tags} hint="comma separated">{text("tags", { placeholder: "resnet, sweep-a" })}</Field>
        <Field name="sweep" label="Sweep" error={errors.sweep} hint="groups runs; the queue filters by it">{text("sweep")}</Field>
        <Field name="metric_patterns" label="Metric patterns" error={errors.metric_patterns}
               hint="regular expressions with named groups, one a line: step or epoch set x, any other group is a metric">
          {area("metric_patterns", "iter (?P<step>\\d+) loss (?P<train_loss>[-\\d.e]+)")}
        </Field>

        <div />
        <div className="row gap">
          <button type="submit" className="primary" disabled={sending} data-testid="submit">{sending ? "Submitting…" : "Submit"}</button>
          <span className="muted"><kbd>Ctrl</kbd>+<kbd>Enter</kbd></span>
          {Object.keys(errors).length ? <span className="field-error" role="status">fix the fields marked above</span> : null}
        </div>
      </form>
    </div>
  );
}

function Field({ name, label, error, hint, children }: { name: string; label: string; error?: string; hint?: string; children: ReactNode }) {
  return (
    <>
      <label htmlFor={`f-${name}`}>{label}</label>
      <div data-field={name}>
        {children}
        {error ? <div className="field-error" id={`e-${name}`} role="alert">{error}</div> : hint ? <div className="hint">{hint}</div> : null}
      </div>
    </>
  );
}
