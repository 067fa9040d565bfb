/**
 * Progress for long work: a bar with rate and ETA on a terminal, plain log lines otherwise
 * (CI, pipes, files), at most one line per `logEveryMs` so logs stay readable.
 */
export interface ProgressSink {
  (done: number, total: number): void;
  finish(note?: string): void;
}

export interface ProgressOptions {
  stream?: NodeJS.WriteStream;
  logEveryMs?: number;
  now?: () => number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** Rate, ETA and percentage of a task `elapsed` seconds in; `pct` is `empty` while total is 0. */
function measure(done: number, total: number, elapsed: number, empty: number) {
  const rate = elapsed > 0 ? done / elapsed : 0;
  return {
    elapsed,
    rate,
    eta: rate > 0 ? (total - done) / rate : Number.NaN,
    pct: total > 0 ? Math.floor((100 * done) / total) : empty,
  };
}

export function progress(label: string, unit: string, options: ProgressOptions = {}): ProgressSink {
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? Date.now;
  const tty = Boolean(stream.isTTY) && !process.env.CI;
  const logEvery = options.logEveryMs ?? 10_000;
  const start = now();
  let lastLog = start;
  let last = { done: 0, total: 0 };
  const line = (done: number, total: number) => {
    const { elapsed, rate, eta, pct } = measure(done, total, (now() - start) / 1000, 100);
    return {
      pct,
      text: `${done}/${total} ${unit} ${rate.toFixed(0)} ${unit}/s, elapsed ${formatDuration(elapsed)}, ETA ${formatDuration(eta)}`,
    };
  };
  const sink = ((done: number, total: number) => {
    last = { done, total };
    const { pct, text } = line(done, total);
    if (tty) {
      const width = 24;
      const filled = Math.round((width * pct) / 100);
      stream.write(
        `\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(pct).padStart(3)}% ${text}\x1b[K`,
      );
    } else if (now() - lastLog >= logEvery) {
      lastLog = now();
      stream.write(`${label}: ${pct}% ${text}\n`);
    }
  }) as ProgressSink;
  sink.finish = (note?: string) => {
    const { text } = line(last.total, last.total);
    const msg = `${label}: done, ${text.replace(/, ETA.*/, '')}${note ? ` — ${note}` : ''}`;
    stream.write(tty ? `\r${msg}\x1b[K\n` : `${msg}\n`);
  };
  return sink;
}

/**
 * Progress for work that runs side by side (steps on several worker threads): on a terminal one
 * line shows every running task; otherwise each task logs on its own, like `progress`.
 */
export function progressBoard(options: ProgressOptions = {}): {
  task(label: string, unit: string): ProgressSink;
} {
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? Date.now;
  const tty = Boolean(stream.isTTY) && !process.env.CI;
  if (!tty) return { task: (label, unit) => progress(label, unit, options) };
  const active = new Map<
    number,
    { label: string; unit: string; start: number; done: number; total: number }
  >();
  let nextId = 0;
  const render = () => {
    const parts = [...active.values()].map((t) => {
      const { pct, eta } = measure(t.done, t.total, (now() - t.start) / 1000, 0);
      return `${t.label} ${pct}% ETA ${formatDuration(eta)}`;
    });
    const width = stream.columns ?? 120;
    const text = parts.join(' | ');
    stream.write(`\r${text.length > width - 1 ? `${text.slice(0, width - 2)}…` : text}\x1b[K`);
  };
  return {
    task(label, unit) {
      const id = nextId++;
      const t = { label, unit, start: now(), done: 0, total: 0 };
      active.set(id, t);
      const sink = ((done: number, total: number) => {
        t.done = done;
        t.total = total;
        render();
      }) as ProgressSink;
      sink.finish = (note?: string) => {
        active.delete(id);
        const { elapsed, rate } = measure(t.total, t.total, (now() - t.start) / 1000, 100);
        stream.write(
          `\r${label}: done, ${t.total}/${t.total} ${unit} ${rate.toFixed(0)} ${unit}/s, elapsed ${formatDuration(elapsed)}${note ? ` — ${note}` : ''}\x1b[K\n`,
        );
        if (active.size) render();
      };
      return sink;
    },
  };
}
