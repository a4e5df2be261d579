import { Command } from 'commander';
import { defineCommand } from '../option-table.js';
import { switchOn, text } from '../option-field.js';
import { common } from '../common-options.js';
import { readSubmission, writeSubmission } from '../../data/submission.js';
import type { Scores } from '../../infer/metrics.js';
import { scoreSubmissionFiles } from '../../eval/submission-files.js';
import { ensembleSubmissions, type WeightedSubmission } from '../../predict/ensemble.js';
import { invalidParameterError, parseNumberOption } from '../../util/errors.js';
import type { CliIo } from '../io.js';

/** Formats scores as the one line the CLI prints. */
export function formatScores(s: Scores): string {
  return `MAP@5 ${s.map5.toFixed(5)}  top-1 ${s.top1.toFixed(4)}  top-5 ${s.top5.toFixed(4)}  (${s.count} photos)`;
}

const EVALUATE_OPTIONS = {
  submission: text('--submission <file>', 'submission CSV (Image,Id with up to 5 ids)').asInput('file').required('the submission CSV to score'),
  truth: text('--truth <file>', 'truth CSV (Image,Id)').asInput('file').required('the truth CSV (Image,Id)'),
  json: switchOn('--json', 'print the scores as JSON'),
};

const ENSEMBLE_OPTIONS = {
  out: common.outFile('ensemble submission CSV to write').required('where to write the ensemble submission'),
};

/** The file of a `FILE:SCORE` argument. */
function specFile(spec: string): string {
  const at = spec.lastIndexOf(':');
  return at <= 0 ? spec : spec.slice(0, at);
}

/** `whaleid evaluate` and `whaleid ensemble`. */
export function registerScoreCommands(program: Command, io: CliIo): void {
  defineCommand(program, {
    name: 'evaluate',
    description: 'score a submission against the truth: MAP@5, top-1, top-5',
    example: 'whaleid evaluate --submission sub.csv --truth catalog/test_truth.csv',
    options: EVALUATE_OPTIONS,
    run: async (opts) => {
      const s = await scoreSubmissionFiles(opts.submission, opts.truth);
      io.out(opts.json ? JSON.stringify(s) : formatScores(s));
    },
  });

  defineCommand(program, {
    name: 'ensemble',
    description: 'rank-vote several submissions (weight = score squared, rank r counts 1/(r+1))',
    example: 'whaleid ensemble a.csv:0.905 b.csv:0.912 --out ensemble.csv',
    argument: { name: '<file:score...>', help: 'submissions, each with its score (leaderboard or validation MAP@5)', input: specFile },
    options: ENSEMBLE_OPTIONS,
    run: async (opts, specs) => {
      const out = opts.out;
      const subs: WeightedSubmission[] = [];
      for (const spec of specs) {
        const at = spec.lastIndexOf(':');
        if (at <= 0) throw invalidParameterError(`argument ${spec}`, 'FILE:SCORE, e.g. a.csv:0.905', spec);
        const name = spec.slice(0, at);
        const score = parseNumberOption(`the score of ${name}`, spec.slice(at + 1), Number.MIN_VALUE, 1e9);
        subs.push({ name, score, predictions: await readSubmission(name) });
      }
      const result = ensembleSubmissions(subs);
      await writeSubmission(out, result);
      io.out(`wrote the ensemble of ${subs.length} submissions (${result.length} photos) to ${out}`);
    },
  });
}
