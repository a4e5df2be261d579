import { Command } from 'commander';
import { defineCommand } from '../option-table.js';
import { choice, switchOn } from '../option-field.js';
import { common } from '../common-options.js';
import { loadDataset, loadUsableDataset } from '../../data/dataset.js';
import { hasIssues, reportIssues } from '../../data/issues.js';
import { NEW_WHALE } from '../../data/labels.js';
import { writeSubmission } from '../../data/submission.js';
import { allNewWhale, mostFrequentIds } from '../../predict/baselines.js';
import { WhaleidError } from '../../util/errors.js';
import { datasetPhotoIssues } from '../../image/photo-policy.js';
import type { CliIo } from '../io.js';

const VALIDATE_OPTIONS = {
  data: common.data.required('the dataset folder to check'),
  all: switchOn('--all', 'list every problem (default: 20 per file and kind, then a count of the rest)'),
};

const BASELINE_OPTIONS = {
  data: common.data.required('the dataset folder'),
  kind: choice('--kind <kind>', 'which baseline', () => ['new-whale', 'frequent'] as const).withDefault('new-whale'),
  out: common.outFile('submission CSV to write').required('where to write the submission CSV'),
};

/** `whaleid validate` and `whaleid baseline`: look at a dataset, write trivial submissions. */
export function registerDataCommands(program: Command, io: CliIo): void {
  defineCommand(program, {
    name: 'validate',
    description: 'check a dataset and report every problem (file, line, field)',
    example: 'whaleid validate --data ./whales',
    options: VALIDATE_OPTIONS,
    run: async (opts) => {
      const loaded = await loadDataset(opts.data);
      // photos are checked too (headers: format, size, whole file), as every command would refuse them
      const ds = { ...loaded, issues: [...loaded.issues, ...(await datasetPhotoIssues(loaded))] };
      const hidden = reportIssues(ds.issues, io.err, opts.all ? Infinity : undefined);
      if (hidden > 0) io.err(`(${hidden} problems counted, not listed: --all lists every one)`);
      const ids = new Set(ds.train.map((p) => p.id).filter((id) => id !== NEW_WHALE));
      const newWhale = ds.train.filter((p) => p.id === NEW_WHALE).length;
      io.out(`${ds.layout} layout: ${ds.train.length} labelled photos of ${ids.size} individuals (+${newWhale} labelled new_whale: new individuals), ${ds.test.length} test photos`);
      const counts = { fatal: 0, error: 0, warning: 0 };
      for (const i of ds.issues) counts[i.severity]++;
      io.out(`${counts.fatal} fatal, ${counts.error} errors, ${counts.warning} warnings`);
      if (hasIssues(ds.issues, 'error')) io.setExitCode(1);
    },
  });

  defineCommand(program, {
    name: 'baseline',
    description: 'write a trivial submission for the test photos (all new_whale, or the most frequent ids)',
    example: 'whaleid baseline --data ./catalog --kind frequent --out frequent.csv',
    options: BASELINE_OPTIONS,
    run: async (opts) => {
      const ds = await loadUsableDataset(opts.data, io.err);
      if (ds.test.length === 0) throw new WhaleidError(`${opts.data}: no test photos; expected a test/ folder with photos`);
      const images = ds.test.map((t) => t.image);
      const preds = opts.kind === 'frequent' ? mostFrequentIds(ds.train.map((p) => p.id), images) : allNewWhale(images);
      await writeSubmission(opts.out, preds);
      io.out(`wrote ${preds.length} predictions to ${opts.out}`);
    },
  });
}
