/**
 * The steps of `whaleid kaggle`. Each writes its output last (atomically) and is skipped when that
 * output exists, so the pipeline resumes where it stopped; training resumes from its checkpoint.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { CliIo } from './io.js';
import type { TrainHooks } from '../train/trainer.js';
import type { TrainConfig } from '../train/train-config.js';
import { writeSubmission, readSubmission } from '../data/submission.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { hasCheckpoint, readRunValidation, runPaths } from '../model/run-folder.js';
import { resolveTrainConfig } from '../train/train-config.js';
import { resolveSchedule } from '../train/schedule.js';

/** What the steps share. */
export interface StepContext {
  io: CliIo;
  data: string;
  work: string;
  /** Training settings of run1 (run2 is trained with run1's stored configuration). */
  train: Partial<TrainConfig>;
  opts: { boxes?: string; rotate?: string; tta: number; minScore: number; cache?: string; seed: number };
  hooks: () => TrainHooks & { done(): void };
}

function skip(ctx: StepContext, name: string, output: string): boolean {
  if (!existsSync(output)) return false;
  ctx.io.out(`${name}: ${output} already there, skipped`);
  return true;
}

/**
 * Step 0: the training settings checked as a whole (batch and micro-batch, schedule, ...), so a
 * mistake is reported before hours of work rather than after the dedup step.
 */
export function checkSettings(ctx: StepContext): void {
  resolveSchedule(resolveTrainConfig({ ...ctx.train, data: ctx.data }).schedule);
}

/** Step 1: duplicate groups (written for inspection; prediction answers duplicates by itself). */
export async function findDuplicatesStep(ctx: StepContext): Promise<void> {
  const out = path.join(ctx.work, 'dedup', 'duplicates.csv');
  if (skip(ctx, 'dedup', out)) return;
  const { main } = await import('./main.js');
  await main(['node', 'whaleid', 'dedup', '--data', ctx.data, '--out', path.dirname(out), ...(ctx.opts.cache ? ['--cache', ctx.opts.cache] : ['--no-cache']), '--quiet'], ctx.io);
}

/** Step 2: train (or resume) a run. */
export async function trainStep(ctx: StepContext, name: string): Promise<void> {
  const runDir = path.join(ctx.work, name);
  if (skip(ctx, `train ${name}`, runPaths(runDir).modelJson)) return;
  const { startTraining, resumeTraining } = await import('../train/trainer.js');
  const hooks = ctx.hooks();
  const resume = hasCheckpoint(runDir);
  const t = resolveTrainConfig({ ...ctx.train, data: ctx.data });
  ctx.io.out(`train ${name}: ${resume ? 'resuming' : 'starting'} (${t.preset}, ${typeof t.schedule === 'string' ? t.schedule : (t.schedule.name ?? 'custom')})`);
  const r = resume ? await resumeTraining(runDir, hooks) : await startTraining(runDir, { ...ctx.train, data: ctx.data }, hooks);
  hooks.done();
  ctx.io.out(`train ${name}: validation MAP@5 ${r.validation?.map5.toFixed(4) ?? '-'}`);
}

/** Steps 3 and 5: a TTA submission of a run. */
export async function predictStep(ctx: StepContext, name: string): Promise<void> {
  const out = path.join(ctx.work, `${name}-tta${ctx.opts.tta}.csv`);
  if (skip(ctx, `predict ${name}`, out)) return;
  const { predictDataset } = await import('../predict/predict-dataset.js');
  const res = await predictDataset({ runDir: path.join(ctx.work, name), data: ctx.data, tta: ctx.opts.tta, seed: ctx.opts.seed, boxes: ctx.opts.boxes, rotate: ctx.opts.rotate, cacheDir: ctx.opts.cache, onMessage: (l) => ctx.io.err(`  ${l}`) });
  await writeFileAtomic(`${out}.top.json`, JSON.stringify(res.top));
  await writeSubmission(out, res.predictions);
  ctx.io.out(`predict ${name}: ${out} (threshold ${res.threshold}, ${(res.newFirstShare * 100).toFixed(1)}% new_whale first)`);
}

/** Step 4: bootstrap a second run from the first's confident answers. */
export async function bootstrapStep(ctx: StepContext, from: string, to: string): Promise<void> {
  const runDir = path.join(ctx.work, to);
  if (skip(ctx, `bootstrap ${to}`, runPaths(runDir).modelJson)) return;
  const { bootstrapRun } = await import('../predict/bootstrap.js');
  const hooks = ctx.hooks();
  const { labels, result } = await bootstrapRun({ runDir: path.join(ctx.work, from), data: ctx.data, out: runDir, minScore: ctx.opts.minScore, boxes: ctx.opts.boxes, rotate: ctx.opts.rotate, cacheDir: ctx.opts.cache, seed: ctx.opts.seed, hooks });
  hooks.done();
  ctx.io.out(`bootstrap ${to}: ${labels.length} pseudo-labels; validation MAP@5 ${result.validation?.map5.toFixed(4) ?? '-'}`);
}

/** Step 6: rank-vote ensemble of the runs' submissions, each weighted by its validation MAP@5. */
export async function ensembleStep(ctx: StepContext, names: string[]): Promise<void> {
  const out = path.join(ctx.work, 'submission.csv');
  if (skip(ctx, 'ensemble', out)) return;
  const { ensembleSubmissions } = await import('../predict/ensemble.js');
  const subs = [];
  for (const n of names) {
    const validation = readRunValidation(path.join(ctx.work, n));
    const score = validation ? Math.max(1e-3, validation.map5) : 1;
    subs.push({ name: n, score, predictions: await readSubmission(path.join(ctx.work, `${n}-tta${ctx.opts.tta}.csv`)) });
  }
  await writeSubmission(out, ensembleSubmissions(subs));
  ctx.io.out(`ensemble: ${out} (weights ${subs.map((s) => `${s.name} ${s.score.toFixed(3)}`).join(', ')})`);
}
