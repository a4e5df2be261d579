import cliProgress from 'cli-progress';

/** A progress display for long work: items done, rate and ETA on stderr. */
export interface Progress {
  /** Marks `n` more items done; `info` replaces the free-text field (loss, MAP@5, ...). */
  tick(n?: number, info?: string): void;
  /** Ends the display (prints the final state). */
  stop(): void;
}

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  /** Turn the display off (tests, `--quiet`). Default: on. */
  enabled?: boolean;
  /** Items already done when resuming. */
  start?: number;
  /**
   * When the work ends at the latest (ms since the epoch), e.g. a training time budget: the ETA
   * shown is never later than it.
   */
  deadline?: number;
}

/**
 * Seconds as the bar shows them: `45s`, `12m05s`, `3h07m`.
 *
 * @param seconds - a duration
 * @returns its short form (`--` when unknown)
 * @example
 * formatEta(725); // '12m05s'
 */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * The time left: from the rate so far, and never past the deadline.
 *
 * @param remaining - items left
 * @param rate - items per second so far
 * @param deadline - latest end (ms since the epoch), if any
 * @param now - the time (ms since the epoch)
 * @returns seconds left (Infinity when nothing is known yet)
 * @example
 * etaSeconds(100, 0.5, Date.now() + 60_000, Date.now()); // 60: the budget ends first
 */
export function etaSeconds(remaining: number, rate: number, deadline: number | undefined, now: number): number {
  const fromRate = rate > 0 ? remaining / rate : Infinity;
  return deadline === undefined ? fromRate : Math.min(fromRate, Math.max(0, (deadline - now) / 1000));
}

/**
 * Creates a progress bar on stderr. On a terminal it redraws in place; elsewhere (CI logs, pipes)
 * it prints one line every few seconds so logs stay readable.
 *
 * @param label - what is being done, e.g. `synth`
 * @param total - number of items
 * @param options - see {@link ProgressOptions}
 * @returns a {@link Progress}
 * @example
 * const bar = createProgress('decode', files.length);
 * for (const f of files) { await decode(f); bar.tick(); }
 * bar.stop();
 */
export function createProgress(label: string, total: number, options: ProgressOptions = {}): Progress {
  if (options.enabled === false || total <= 0) return { tick: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {value}/{total} {percentage}% | {rate}/s | ETA {eta} {info}`,
      stream: process.stderr,
      noTTYOutput: true,
      notTTYSchedule: 5000,
      etaBuffer: 50,
      hideCursor: true,
      barsize: 24,
    },
    cliProgress.Presets.shades_classic,
  );
  const began = Date.now();
  const startAt = options.start ?? 0;
  let done = startAt;
  let info = '';
  bar.start(total, done, { rate: '0.0', info, eta: formatEta(etaSeconds(total - done, 0, options.deadline, began)) });
  return {
    tick(n = 1, text) {
      done += n;
      if (text !== undefined) info = text;
      const now = Date.now();
      const secs = (now - began) / 1000;
      const perSecond = secs > 0 ? (done - startAt) / secs : 0;
      bar.update(done, { rate: perSecond.toFixed(1), info, eta: formatEta(etaSeconds(total - done, perSecond, options.deadline, now)) });
    },
    stop() {
      bar.stop();
    },
  };
}

/**
 * A progress callback `(done, total)` for work done in passes (features of known photos, then of
 * each TTA copy): a bar per pass, restarted when a pass completes.
 *
 * @param label - what is being done
 * @param enabled - display on or off
 * @returns the callback
 * @example
 * computeFeatures(branch, cache, photos, crop, { onProgress: createPassProgress('features', true) });
 */
export function createPassProgress(label: string, enabled: boolean): (done: number, total: number) => void {
  let bar: Progress | null = null;
  let shown = 0;
  return (done, total) => {
    bar ??= createProgress(label, total, { enabled });
    bar.tick(done - shown);
    shown = done;
    if (done === total) {
      bar.stop();
      bar = null;
      shown = 0;
    }
  };
}
