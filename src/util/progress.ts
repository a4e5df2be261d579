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
      format: `${label} [{bar}] {value}/{total} {percentage}% | {rate}/s | ETA {eta_formatted} {info}`,
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
  bar.start(total, done, { rate: '0.0', info });
  return {
    tick(n = 1, text) {
      done += n;
      if (text !== undefined) info = text;
      const secs = (Date.now() - began) / 1000;
      const rate = secs > 0 ? ((done - startAt) / secs).toFixed(1) : '0.0';
      bar.update(done, { rate, info });
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
