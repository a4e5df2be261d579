/**
 * Refreshes test/helpers/file-durations.json (the suite's file order, test/helpers/sequencer.ts)
 * from a vitest JSON report of the whole suite:
 *
 *   npx vitest run --reporter=json --outputFile=vt.json
 *   npx tsx test/helpers/update-durations.ts vt.json
 *
 * Files the report lacks keep their recorded durations (a report of a few files updates those).
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const [report] = process.argv.slice(2);
if (!report) {
  console.error('usage: npx tsx test/helpers/update-durations.ts VITEST_JSON_REPORT');
  process.exit(2);
}
const root = path.resolve(import.meta.dirname, '../..');
const target = path.join(import.meta.dirname, 'file-durations.json');
const recorded = JSON.parse(readFileSync(target, 'utf8')) as { about: string; seconds: Record<string, number> };
const results = (JSON.parse(readFileSync(report, 'utf8')) as { testResults?: { name: string; startTime: number; endTime: number }[] }).testResults;
if (!Array.isArray(results)) {
  console.error(`${report}: expected a vitest JSON report (an object with testResults)`);
  process.exit(2);
}
const seconds = { ...recorded.seconds };
for (const r of results) seconds[path.relative(root, r.name).split(path.sep).join('/')] = Math.round((r.endTime - r.startTime) / 100) / 10;
const sorted = Object.fromEntries(Object.entries(seconds).sort((a, b) => b[1] - a[1]));
writeFileSync(`${target}.tmp`, JSON.stringify({ about: recorded.about, seconds: sorted }, null, 1) + '\n');
renameSync(`${target}.tmp`, target);
console.log(`${results.length} files updated in ${path.relative(root, target)}`);
