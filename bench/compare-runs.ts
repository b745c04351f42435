/**
 * Re-renders a run's report with another run as its "previous run" column: how far two full
 * runs differ, line by line. Usage:
 *   node --import tsx bench/compare-runs.ts <run.json> <other-run.json> <out.md>
 * out.md is required: the published docs/bench/latest.md is rewritten only when named.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { markdown, previousRunOf, type RunRecord } from './lib/report.ts';

const args = process.argv.slice(2);
const [runFile, otherFile, outFile] = args;
if (!runFile || !otherFile || !outFile || args.length > 3) {
  console.error('usage: node --import tsx bench/compare-runs.ts <run.json> <other-run.json> <out.md>');
  process.exit(2);
}
const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as RunRecord;
const run = read(runFile);
const other = read(otherFile);
writeFileSync(
  outFile,
  markdown(
    run.lines,
    `${run.quick ? 'BENCH_QUICK=1: short smoke run, numbers are rough' : 'full run'}; re-rendered by bench/compare-runs.ts`,
    run.load?.summary ?? 'not recorded',
    previousRunOf(other),
    run.machine,
  ),
);
console.log(`wrote ${outFile}`);
