import { Command, Option } from 'commander';
import { defineCommand, commonFlags, requireOption } from '../options.js';
import { loadDataset, loadUsableDataset } from '../../data/dataset.js';
import { formatIssue, hasIssues } from '../../data/issues.js';
import { NEW_WHALE } from '../../data/labels.js';
import { writeSubmission } from '../../data/submission.js';
import { allNewWhale, mostFrequentIds } from '../../predict/baselines.js';
import { WhaleidError } from '../../util/errors.js';
import type { CliIo } from '../io.js';

/** `whaleid validate` and `whaleid baseline`: look at a dataset, write trivial submissions. */
export function registerDataCommands(program: Command, io: CliIo): void {
  defineCommand(program, 'validate', 'check a dataset and report every problem (file, line, field)', 'whaleid validate --data ./whales')
    .addOption(commonFlags.data())
    .action(async (opts: { data?: string }) => {
      const ds = await loadDataset(requireOption(opts.data, '--data', 'the dataset folder to check'));
      for (const issue of ds.issues) io.err(formatIssue(issue));
      const ids = new Set(ds.train.map((p) => p.id).filter((id) => id !== NEW_WHALE));
      const newWhale = ds.train.filter((p) => p.id === NEW_WHALE).length;
      io.out(`${ds.layout} layout: ${ds.train.length} labelled photos of ${ids.size} individuals (+${newWhale} new_whale), ${ds.test.length} test photos`);
      const counts = { fatal: 0, error: 0, warning: 0 };
      for (const i of ds.issues) counts[i.severity]++;
      io.out(`${counts.fatal} fatal, ${counts.error} errors, ${counts.warning} warnings`);
      if (hasIssues(ds.issues, 'error')) io.setExitCode(1);
    });

  defineCommand(program, 'baseline', 'write a trivial submission for the test photos (all new_whale, or the most frequent ids)', 'whaleid baseline --data ./catalog --kind frequent --out frequent.csv')
    .addOption(commonFlags.data())
    .addOption(new Option('--kind <kind>', 'which baseline').choices(['new-whale', 'frequent']).default('new-whale'))
    .addOption(commonFlags.out('submission CSV to write'))
    .action(async (opts: { data?: string; kind: string; out?: string }) => {
      const out = requireOption(opts.out, '--out', 'where to write the submission CSV');
      const ds = await loadUsableDataset(requireOption(opts.data, '--data', 'the dataset folder'), io.err);
      if (ds.test.length === 0) throw new WhaleidError(`${opts.data}: no test photos; expected a test/ folder with photos`);
      const images = ds.test.map((t) => t.image);
      const preds = opts.kind === 'frequent' ? mostFrequentIds(ds.train.map((p) => p.id), images) : allNewWhale(images);
      await writeSubmission(out, preds);
      io.out(`wrote ${preds.length} predictions to ${out}`);
    });
}
