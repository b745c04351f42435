/**
 * Re-renders a run's report with another run as its "previous run" column: how far two full
 * runs differ, line by line. Usage:
 *   node --import tsx bench/compare-runs.ts <run.json> <other-run.json> [out.md]
 * (out.md defaults to docs/bench/latest.md).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { markdown, previousRunOf, type RunRecord } from './lib/report.ts';

const [runFile, otherFile, outFile] = process.argv.slice(2);
if (!runFile || !otherFile) throw new Error('usage: compare-runs.ts <run.json> <other-run.json> [out.md]');
const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as RunRecord;
const run = read(runFile);
const other = read(otherFile);
const out = outFile ?? fileURLToPath(new URL('../docs/bench/latest.md', import.meta.url));
writeFileSync(
  out,
  markdown(
    run.lines,
    run.quick ? 'BENCH_QUICK=1: short smoke run, numbers are rough' : 'full run',
    run.load?.summary ?? 'not recorded',
    previousRunOf(other),
    run.machine,
  ),
);
console.log(`wrote ${out}`);
