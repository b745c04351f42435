/**
 * `npm run bench`: Lanyard against baselines on the same machine in the same run. Every server
 * runs in its own child process; the load generator (autocannon, chains of node:http requests)
 * runs here. Prints `name | lanyard | baseline | ratio` and writes docs/bench/latest.{md,json,svg,png}.
 *
 * Each line alternates Lanyard and its baseline in rounds (bench/lib/rounds.ts) and reports the
 * median ratio with its min–max; the table also shows the previous run's ratio (latest.json
 * before it is rewritten), which is how far two runs differ.
 *
 * BENCH_QUICK=1: short smoke run. BENCH_ONLY=endpoints,refresh,...: a subset.
 * BENCH_PROFILE=1: the Lanyard children write CPU profiles to bench/.profiles/.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { startChild, type Child } from './lib/child.ts';
import { ONLY, QUICK, settings } from './lib/setup.ts';
import { machine, markdown, previousRunOf, printLine, svgChart, writePng, type Line, type RunRecord } from './lib/report.ts';
import { median } from './lib/rounds.ts';
import { burst } from './lines/burst.ts';
import { localLines } from './lines/local.ts';
import { loginLines } from './lines/login.ts';
import { provisioningLines } from './lines/provisioning.ts';
import { refreshLines } from './lines/refresh.ts';
import { endpointLines, lifecycleLines } from './lines/server.ts';

const sections: Array<{ key: string; title: string; run: (idp: Child) => Promise<Line[]> }> = [
  { key: 'endpoints', title: 'HTTP endpoints vs the framework ceiling', run: (idp) => endpointLines(idp, settings) },
  { key: 'refresh', title: 'Refresh grant (rotation)', run: (idp) => refreshLines(idp, settings) },
  { key: 'login', title: 'Full enhanced login', run: (idp) => loginLines(idp, settings) },
  { key: 'provisioning', title: 'First sign-ins in a large account', run: () => provisioningLines(settings) },
  { key: 'local', title: 'Local work: token verification, SDK size', run: (idp) => localLines(idp, settings) },
  { key: 'lifecycle', title: 'Start-up and memory', run: (idp) => lifecycleLines(idp, settings) },
  { key: 'burst', title: 'Shift change from behind one NAT', run: (idp) => burst(idp, settings) },
];

async function main(): Promise<void> {
  const m = machine();
  console.log(`Lanyard bench${QUICK ? ' (quick)' : ''}: ${m.cores} cores, ${m.ramGb} GB, Node ${m.node}`);
  console.log('name | lanyard | baseline | ratio (Lanyard ÷ baseline)');
  // The machine may be shared: record how busy it was, for the reader of the numbers.
  const loads: number[] = [loadavg()[0]!];
  const sampler = setInterval(() => loads.push(loadavg()[0]!), 5_000);
  const idp = await startChild('dev-idp');
  const lines: Line[] = [];
  try {
    for (const section of sections) {
      if (ONLY && !ONLY.includes(section.key)) continue;
      console.log(`\n## ${section.title}`);
      try {
        for (const line of await section.run(idp)) {
          lines.push({ ...line, section: section.title });
          printLine(line);
        }
      } catch (error) {
        const line: Line = {
          section: section.title,
          name: `${section.key} (failed)`,
          lanyard: 'error',
          baseline: '—',
          ratio: null,
          better: 'higher',
          note: (error as Error).message.split('\n')[0]!.slice(0, 200),
        };
        lines.push(line);
        printLine(line);
        console.error(error);
      }
    }
  } finally {
    clearInterval(sampler);
    await idp.stop();
  }
  const load = `min ${Math.min(...loads).toFixed(1)}, median ${median(loads).toFixed(1)}, max ${Math.max(...loads).toFixed(1)} on ${m.cores} cores`;
  console.log(`\nload average during the run: ${load}`);
  if (ONLY && process.env.BENCH_WRITE !== '1') return;
  // BENCH_OUT: another directory (e.g. a second run kept apart from the published one).
  const out = process.env.BENCH_OUT ? `${process.env.BENCH_OUT.replace(/\/$/, '')}/` : fileURLToPath(new URL('../docs/bench/', import.meta.url));
  mkdirSync(out, { recursive: true });
  const previousFile = `${out}latest.json`;
  const previous = existsSync(previousFile) ? previousRunOf(JSON.parse(readFileSync(previousFile, 'utf8')) as RunRecord) : undefined;
  // One machine record, started at the run's start, in both files.
  writeFileSync(`${out}latest.md`, markdown(lines, QUICK ? 'BENCH_QUICK=1: short smoke run, numbers are rough' : 'full run', load, previous, m));
  const renderer = await writePng(svgChart(lines), `${out}latest.svg`, `${out}latest.png`);
  writeFileSync(`${out}latest.json`, JSON.stringify({ machine: m, load: { samples: loads, summary: load }, quick: QUICK, lines }, null, 2) + '\n');
  console.log(`\nwrote ${out}latest.md, latest.json, latest.svg, latest.png (${renderer})`);
}

await main();
process.exit(0);
