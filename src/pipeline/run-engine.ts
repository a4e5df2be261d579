/**
 * The engine settings of a run: what was asked (flags, undefined where not given), what a run
 * stores in RUN/engine.json when it starts (the engine `auto` resolved to, its backend, threads,
 * device and precision), and what a resume trains with. A resume restores the stored settings,
 * because the engine, its threads and its device all change the weights a step computes (a
 * `--threads 1` run resumed on two threads, or a wasm run resumed on native, trained on with other
 * numbers and no word); a flag given again that would change them is refused, as the run's other
 * settings are.
 */
import type { EngineBackend } from '../model/tfjs/tfjs-backend.js';
import type { NativeEngineSettings } from '../model/native/native-training-engine.js';
import { readRunEngine, runPaths } from '../model/folders/run-folder.js';
import { defaultTrainingThreads, engineTraits, TRAINING_ENGINES, type EngineRequest, type EngineSelection, type TrainingEngineName } from '../model/training-engines.js';
import { WhaleidError } from '../util/errors.js';

/**
 * How to run the training (not what to train), as asked: which engine computes the steps, its
 * device, precision and threads, and the tfjs backend. Unset fields take their defaults (auto
 * engine and device, fp32, wasm backend, every core) on a new run, and the stored values on a
 * resume.
 */
export interface EngineChoice {
  /** tfjs backend (the wasm engine's, and tfjs's own work: the network's definition, prediction). */
  backend?: EngineBackend;
  /** Threads: the native engine's, or wasm's for a run without replicas. */
  threads?: number;
  /** `auto` (default: native when its addon is built, else wasm), `native` or `wasm`. */
  engine?: EngineRequest;
  /** The native engine's device: `auto` (default), `cpu` or `cuda`. */
  device?: NativeEngineSettings['device'];
  /** The native engine's precision: `fp32` (default) or `bf16` (CUDA). */
  precision?: NativeEngineSettings['precision'];
}

/** The engine settings a run trains with, as stored in RUN/engine.json. */
export interface RunEngine {
  /** The engine `auto` resolved to, or the one asked for. */
  readonly engine: TrainingEngineName;
  readonly backend: EngineBackend;
  readonly threads: number;
  /** The native engine's resolved device (native runs only). */
  readonly device?: 'cpu' | 'cuda';
  /** The native engine's precision (native runs only). */
  readonly precision?: 'fp32' | 'bf16';
}

/**
 * A choice with its defaults filled in, except the engine and device that `auto` resolves later. The threads are the one default of training-engines.ts (every core).
 *
 * @param asked - the choice as given
 * @returns the choice with backend, threads and precision set
 * @example
 * withEngineDefaults({}); // { backend: 'wasm', threads: 2, engine: 'auto', device: 'auto', precision: 'fp32' }
 */
export function withEngineDefaults(asked: EngineChoice): Required<EngineChoice> {
  return {
    backend: asked.backend ?? 'wasm',
    threads: asked.threads ?? defaultTrainingThreads(),
    engine: asked.engine ?? 'auto',
    device: asked.device ?? 'auto',
    precision: asked.precision ?? 'fp32',
  };
}

/**
 * What a new run stores of the engine that was started for it.
 *
 * @param choice - the choice with defaults ({@link withEngineDefaults})
 * @param selection - the engine picked
 * @returns the record for RUN/engine.json
 */
export function runEngineRecord(choice: Required<EngineChoice>, selection: EngineSelection): RunEngine {
  if (selection.native) {
    return { engine: selection.engine, backend: choice.backend, threads: selection.native.threads, device: selection.native.device, precision: selection.native.precision };
  }
  return { engine: selection.engine, backend: choice.backend, threads: choice.threads };
}

const oneOf = <T extends string>(v: unknown, names: readonly T[]): v is T => typeof v === 'string' && (names as readonly string[]).includes(v);

/**
 * Reads and checks a run's stored engine settings.
 *
 * @param runDir - the run folder
 * @returns the settings, or null for a run started before runs stored them
 * @throws {@link WhaleidError} naming engine.json and the field when a value is not valid
 */
export function readStoredEngine(runDir: string): RunEngine | null {
  const raw = readRunEngine(runDir);
  if (!raw) return null;
  const file = runPaths(runDir).engine;
  const bad = (field: string, expected: string): WhaleidError => new WhaleidError(`${file}: ${field} must be ${expected} (found ${JSON.stringify(raw[field]) ?? 'nothing'})`);
  if (!oneOf(raw.engine, TRAINING_ENGINES)) throw bad('engine', TRAINING_ENGINES.join(' or '));
  if (!oneOf(raw.backend, ['wasm', 'cpu'] as const)) throw bad('backend', 'wasm or cpu');
  if (typeof raw.threads !== 'number' || !Number.isSafeInteger(raw.threads) || raw.threads < 1 || raw.threads > 256) throw bad('threads', 'an integer from 1 to 256');
  const record: RunEngine = { engine: raw.engine, backend: raw.backend, threads: raw.threads };
  if (!engineTraits(raw.engine).devices) return record;
  if (!oneOf(raw.device, ['cpu', 'cuda'] as const)) throw bad('device', 'cpu or cuda');
  if (!oneOf(raw.precision, ['fp32', 'bf16'] as const)) throw bad('precision', 'fp32 or bf16');
  return { ...record, device: raw.device, precision: raw.precision };
}

/**
 * The engine a resumed run trains with: its stored settings. A flag given that differs from them
 * is refused (`auto` asks for nothing and so matches any); a run from before engines were stored
 * resumes with the flags given, as it always did.
 *
 * @param runDir - the run folder
 * @param asked - the choice given for the resume (unset: not given)
 * @returns the choice to start, every field set
 * @throws {@link WhaleidError} listing each flag that would change the stored settings
 * @example
 * resumedEngine('runs/a', { threads: 2 }); // throws when runs/a trained on 1 thread
 */
export function resumedEngine(runDir: string, asked: EngineChoice): { choice: Required<EngineChoice>; stored: boolean } {
  const stored = readStoredEngine(runDir);
  if (!stored) return { choice: withEngineDefaults(asked), stored: false };
  const changes: string[] = [];
  const compare = (flag: string, given: string | number | undefined, kept: string | number | undefined): void => {
    if (given === undefined || given === 'auto' || given === kept) return;
    changes.push(`${flag} ${kept ?? '(not used by the wasm engine)'} -> ${given}`);
  };
  compare('--engine', asked.engine, stored.engine);
  compare('--backend', asked.backend, stored.backend);
  compare('--threads', asked.threads, stored.threads);
  compare('--device', asked.device, stored.device);
  compare('--precision', asked.precision, stored.precision);
  if (changes.length > 0) {
    throw new WhaleidError(`${runDir} resumes on the engine it was started on (${runPaths(runDir).engine}), which these flags would change: ${changes.join(', ')}; leave them out to resume, or train into a new folder`);
  }
  return {
    choice: { engine: stored.engine, backend: stored.backend, threads: stored.threads, device: stored.device ?? 'auto', precision: stored.precision ?? 'fp32' },
    stored: true,
  };
}
