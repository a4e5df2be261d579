import { describe, it, expect, beforeAll } from 'vitest';
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { snapshotFiles } from '../helpers/file-snapshot.js';
import { generateSynthCatalog } from '../../src/data/synth/index.js';

/**
 * Bad input through every command of the CLI (issue 18): each case must end with one clear line
 * on stderr, the exit code of a user error (2), and every file of the fixture (dataset, catalog
 * and its photos, submissions, existing outputs) byte-identical, nothing new written.
 * The API half of the table lives beside this file.
 */
const dir = tmpDir('whaleid-robust-');
const ds = path.join(dir, 'ds');
const db = path.join(dir, 'whales.db');
const a = path.join(dir, 'a.csv');
const truth = path.join(ds, 'test_truth.csv');
const existing = path.join(dir, 'existing.csv');
const viewConfig = path.join(dir, 'view-config.json');
const existingDir = path.join(dir, 'existing-dir');
const noRun = path.join(dir, 'no-run');
const nowhere = path.join(dir, 'nowhere');

/** [command line, what the one line must say]. */
const CASES: [string[], RegExp][] = [
  [['synth', '--out', ds], /train\.csv already exists; give --force/],
  [['synth', '--out', path.join(dir, 'new'), '--individuals', '0'], /Expected an integer between 1 and 1000000 for --individuals but received "0"/],
  [['validate'], /^whaleid: missing --data: the dataset folder to check$/],
  [['validate', '--data', nowhere], /nowhere: no such folder/],
  [['baseline', '--data', ds, '--out', path.join(ds, 'train.csv'), '--force'], /is part of the --data input/],
  [['baseline', '--data', ds, '--out', existing], /existing\.csv already exists/],
  [['baseline', '--data', ds, '--kind', 'rare', '--out', path.join(dir, 'b.csv')], /Expected one of new-whale, frequent for --kind but received "rare"/],
  [['evaluate', '--submission', path.join(dir, 'none.csv'), '--truth', truth], /none\.csv: no such file$/],
  [['evaluate', '--submission', a], /^whaleid: missing --truth: the truth CSV/],
  [['ensemble', `${a}:0.9`, '--out', a, '--force'], /is the argument .* input/],
  [['ensemble', `${a}:high`, '--out', path.join(dir, 'ens.csv')], /the score of .*a\.csv but received "high"/],
  [['dedup', '--data', ds, '--out', existingDir], /existing-dir\/duplicates\.csv already exists/],
  [['dedup', '--data', ds], /^whaleid: missing --out: the folder to write the duplicate lists to$/],
  [['preview', '--data', ds, '--out', path.join(ds, 'train', 'sheet.png')], /is part of the --data input/],
  [['preview', '--data', ds, '--out', path.join(dir, 's.png'), '--augment', '-1'], /Expected an integer between 0 and 20 for --augment/],
  [['train', '--data', ds, '--out', path.join(dir, 'run'), '--preset', 'huge'], /Expected one of method, cpu, small, tiny for --preset but received "huge"/],
  [['train', '--data', ds, '--out', path.join(dir, 'run'), '--view-pattern', '('], /^whaleid: Expected a valid regular expression for --view-pattern but received "\("$/],
  [['train', '--data', ds, '--out', path.join(dir, 'run'), '--config', viewConfig], /^whaleid: Expected a valid regular expression for --view-pattern but received "\["$/],
  [['train', '--out', path.join(dir, 'run')], /^whaleid: missing --data: the dataset to train on$/],
  [['predict', '--model', noRun, '--data', ds, '--out', path.join(ds, 'train.csv')], /is part of the --data input/],
  [['predict', '--model', noRun, '--data', ds, '--out', existing], /existing\.csv already exists/],
  [['predict', '--model', noRun, '--data', ds, '--out', path.join(dir, 'p.csv'), '--threshold', '0.5', '--new-share', '0.2'], /give --threshold or --new-share, not both/],
  [['predict', '--model', ds, '--data', ds, '--out', path.join(dir, 'p.csv')], /^whaleid: --model: .*ds: not a training run \(config\.json missing\) nor an imported model \(embedding\.onnx and preprocessing\.json missing\)$/],
  [['evaluate-open', '--model', noRun], /^whaleid: missing --data: a labelled dataset that was not used in training$/],
  [['evaluate-oneshot', '--model', noRun, '--runs', dir, '--data', ds], /give --runs or --data, not both/],
  [['bootstrap', '--model', noRun, '--data', ds, '--out', path.join(dir, 'run2'), '--min-score', '2'], /Expected a number between 0 and 1 for --min-score but received "2"/],
  [['kaggle', '--data', ds, '--out', path.join(dir, 'work'), '--schedule', 'shrot'], /Expected one of method, short, long, smoke for --schedule but received "shrot"/],
  [['kaggle', '--data', ds, '--out', path.join(dir, 'work'), '--batch-size', '8', '--micro-batch', '16'], /between 1 and the batch size 8 for microBatch/],
  [['boxes', 'train', '--data', ds, '--data', ds, '--boxes', a, '--out', path.join(dir, 'm')], /give one --boxes per --data/],
  [['boxes', 'predict', '--data', ds, '--out', path.join(ds, 'bounding_boxes.csv')], /is part of the --data input/],
  [['catalog', 'export', '--catalog', db, '--out', db, '--force'], /is the --catalog input/],
  [['catalog', 'export', '--catalog', db, '--out', `${db}-wal`, '--force'], /is part of the --catalog input/],
  [['catalog', 'backup', '--catalog', db, '--out', existing], /existing\.csv already exists/],
  [['catalog', 'import', '--data', ds], /^whaleid: missing --catalog: the catalog: a SQLite file or a postgres:\/\/ URL$/],
  [['catalog', 'features', '--catalog', db], /^whaleid: missing --model: the training run or imported model folder \(repeat --model for each model a service fuses\)$/],
  [['catalog', 'features', '--catalog', db, '--model', noRun], /^whaleid: --model: .*no-run: no such folder; expected a training run folder/],
  [['serve', '--catalog', db, '--token', 'short'], /--token: expected at least 8 characters/],
  [['demo', '--out', path.join(dir, 'demo'), '--individuals', '2'], /Expected an integer between 5 and 100000 for --individuals/],
  [['demo', '--out', path.join(dir, 'demo'), '--recipe', 'whales'], /Expected one of omniglot, nyala, synthetic, demo for --recipe but received "whales"/],
];

describe('bad input through every command: one line, exit 2, files byte-identical', () => {
  beforeAll(async () => {
    await generateSynthCatalog({ out: ds, individuals: 5, photosPerIndividual: 3, seed: 4 });
    const imp = await runCli('catalog', 'import', '--catalog', db, '--data', ds, '--quiet');
    expect(imp.code, imp.err).toBe(0);
    writeFileSync(a, 'Image,Id\n1.jpg,w_a\n');
    writeFileSync(existing, 'precious\n');
    writeFileSync(viewConfig, JSON.stringify({ viewPattern: '[' }));
    mkdirSync(existingDir);
    writeFileSync(path.join(existingDir, 'duplicates.csv'), 'precious\n');
  });

  it('covers every command', () => {
    const covered = new Set(CASES.map(([args]) => (['boxes', 'catalog'].includes(args[0]) ? `${args[0]} ${args[1]}` : args[0])));
    for (const c of ['synth', 'validate', 'baseline', 'evaluate', 'ensemble', 'dedup', 'preview', 'train', 'predict', 'evaluate-open', 'evaluate-oneshot', 'bootstrap', 'kaggle', 'boxes train', 'boxes predict', 'catalog import', 'catalog features', 'catalog backup', 'catalog export', 'serve', 'demo']) {
      expect(covered.has(c), c).toBe(true);
    }
  });

  it.each(CASES.map(([args, message]) => [args.join(' ').replaceAll(dir, '$T'), args, message] as const))('%s', async (_name, args, message) => {
    const before = snapshotFiles(dir);
    const r = await runCli(...args);
    expect(r.code, r.err).toBe(2);
    expect(r.err.split('\n'), r.err).toHaveLength(1);
    expect(r.err).toMatch(message);
    expect(snapshotFiles(dir)).toEqual(before);
  });
});
