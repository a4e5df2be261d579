import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateSynthCatalog } from '../../src/data/synth/index.js';
import { initEngine } from '../../src/model/tfjs/tfjs-backend.js';
import { startTraining } from '../../src/train/trainer.js';

/**
 * How each shared test fixture is made (test/helpers/fixtures.ts builds them once per content of
 * the code, in a process of their own, and hands test files copies). Each makes in `dir` exactly
 * the files the test files made for themselves before, with the same folder layout (a run's
 * config.json holds paths relative to itself), so a copy of it is what the test made.
 */
export const FIXTURE_BUILDERS = {
  /**
   * The service tests' catalog and run (test/helpers/service.ts): `synth/` (10 whales x 4
   * photos, seed 21), `run/` (a 1-epoch tiny run, seed 4), `cache/` (its preprocessed photos).
   */
  service: async (dir: string): Promise<void> => {
    const data = path.join(dir, 'synth');
    await initEngine({ backend: 'wasm' });
    await generateSynthCatalog({ out: data, individuals: 10, photosPerIndividual: 4, seed: 21 });
    await startTraining(path.join(dir, 'run'), { data, preset: 'tiny', inputSize: 64, schedule: { name: 'test', groups: [{ epochs: 1, lr: 64e-5, K: 1000 }] }, batchSize: 16, valShare: 0.2, seed: 4, cacheDir: path.join(dir, 'cache') });
  },
  /**
   * The tiny run of the training and evaluation tests (trainer, eval-commands): `catalog/` (12
   * whales x 4 photos, seed 5) and `full/`, two 1-epoch groups of the tiny preset on it (seed 3,
   * wasm backend, no image cache: {@link tinyRunConfig}); `full-result.json`: what startTraining
   * returned (trainer.test.ts checks it).
   */
  'tiny-run': async (dir: string): Promise<void> => {
    const data = path.join(dir, 'catalog');
    await initEngine({ backend: 'wasm' });
    await generateSynthCatalog({ out: data, individuals: 12, photosPerIndividual: 4, seed: 5 });
    const result = await startTraining(path.join(dir, 'full'), tinyRunConfig(data));
    writeFileSync(path.join(dir, 'full-result.json'), JSON.stringify(result));
  },
} satisfies Record<string, (dir: string) => Promise<void>>;

/**
 * The configuration of the `tiny-run` fixture's run.
 *
 * @param data - its catalog
 * @returns the configuration
 */
export function tinyRunConfig(data: string) {
  return { data, preset: 'tiny' as const, inputSize: 64, schedule: { name: 'test', groups: [{ epochs: 1, lr: 64e-5, K: 1000 }, { epochs: 1, lr: 64e-5, K: 1 }] }, batchSize: 16, valShare: 0.25, seed: 3 };
}

/**
 * A synthetic catalog of `generateSynthCatalog({ individuals, photosPerIndividual, seed })`, by
 * name: `synth-<individuals>x<photosPerIndividual>-s<seed>`.
 */
export type SynthFixture = `synth-${number}x${number}-s${number}`;

/** A shared fixture's name. */
export type FixtureName = keyof typeof FIXTURE_BUILDERS | SynthFixture;

/**
 * The builder of a fixture.
 *
 * @param name - the fixture's name
 * @returns what makes it in a folder
 */
export function fixtureBuilder(name: string): (dir: string) => Promise<void> {
  if (Object.hasOwn(FIXTURE_BUILDERS, name)) return FIXTURE_BUILDERS[name as keyof typeof FIXTURE_BUILDERS];
  const synth = /^synth-(\d+)x(\d+)-s(\d+)$/.exec(name);
  if (synth) return async (dir) => void await generateSynthCatalog({ out: dir, individuals: Number(synth[1]), photosPerIndividual: Number(synth[2]), seed: Number(synth[3]) });
  throw new Error(`no test fixture named ${name}`);
}
