/**
 * Where a login's CPU goes, over the timed phases of the login line alone: Lanyard's main thread,
 * its other threads (SAML verification workers, libuv's pool that signs tokens and deflates
 * AuthnRequests, V8's helpers) and the load generator (this process), per login, for the
 * authorize phase and the ACS → token phase. What the login line's ratios do not show: whether
 * the cores were busy, and who kept them busy (twenty-first round, docs/benchmarks.md).
 *
 * Usage: node --import tsx bench/login-cpu.ts [rounds, default 4] [logins a round, default 96]
 * Linux only (/proc/<pid>/stat and the main thread's task/<pid>/stat: CPU time in 10 ms ticks, so
 * 0.1 ms a login at 96 logins for each figure; "other threads" is the process's total minus the
 * main thread's).
 * SQLite, 8 browsers in parallel, the dev IdP signing each response between the phases (untimed,
 * not counted), as the login line runs them. One warm-up round, not counted, then `rounds`
 * rounds; prints per round: logins per second over the two phases, then ms of CPU per login by
 * thread group and phase.
 */
import { startChild } from './lib/child.ts';
import { direct, idpLogin, lanyardAuthorize, lanyardComplete, pool } from './lib/login.ts';
import { processCpuMs, threadCpuMs } from './lib/process-cpu.ts';
import { settings, startLanyardUnderTest } from './lib/setup.ts';

const usage = 'usage: node --import tsx bench/login-cpu.ts [rounds, default 4] [logins a round, default 96]';
const args = process.argv.slice(2);
const [roundsArg = '4', loginsArg = '96'] = args;
const rounds = Number(roundsArg);
const logins = Number(loginsArg);
for (const [name, value, text] of [
  ['rounds', rounds, roundsArg],
  ['logins a round', logins, loginsArg],
] as const) {
  if (!Number.isInteger(value) || value < 1) refuse(`${name} must be a whole number of at least 1, got "${text}"`);
}
if (args.length > 2) refuse(`at most two arguments, got ${args.length}`);

function refuse(message: string): never {
  console.error(`login-cpu: ${message}\n${usage}`);
  process.exit(2);
}

interface ThreadCpu {
  main: number;
  other: number;
}

/**
 * CPU (ms) of the process's main thread, and of all its other threads as the process's total
 * minus the main thread's: two roundings to a tick, not one for each of a dozen threads.
 */
function threadCpu(pid: number): ThreadCpu {
  const total = processCpuMs(pid);
  const main = threadCpuMs(pid, pid);
  if (total === undefined || main === undefined) throw new Error(`cannot read /proc/${pid}: this tool needs Linux and a running Lanyard process`);
  return { main, other: total - main };
}

const ownCpu = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/** One phase's CPU per login: Lanyard's threads and this process. */
async function measured<T>(pid: number, run: () => Promise<T>): Promise<{ result: T; main: number; other: number; loadGenerator: number }> {
  const lanyardBefore = threadCpu(pid);
  const ownBefore = ownCpu();
  const result = await run();
  const lanyardAfter = threadCpu(pid);
  return {
    result,
    main: (lanyardAfter.main - lanyardBefore.main) / logins,
    other: (lanyardAfter.other - lanyardBefore.other) / logins,
    loadGenerator: (ownCpu() - ownBefore) / logins,
  };
}

const idp = await startChild('dev-idp');
const lanyard = await startLanyardUnderTest('sqlite', idp, { label: 'login-cpu' });
try {
  const pid = lanyard.child.process.pid;
  if (pid === undefined) throw new Error('the Lanyard process has no pid');
  const target = { publicUrl: lanyard.child.url, connectionSid: lanyard.account.connectionSid, balance: direct };
  const users = (i: number) => `agent${i % 100}@bench.example`;
  const fmt = (x: number) => x.toFixed(2).padStart(6);
  console.log('ms of CPU a login, by phase (authorize, ACS→token): Lanyard main thread | Lanyard other threads | load generator');
  console.log('  round logins/s |  main:  auth   ACS |  other:  auth   ACS |  load gen:  auth   ACS');
  for (let round = 0; round <= rounds; round++) {
    const authorize = await measured(pid, () => pool(logins, settings.loginConcurrency, (i) => lanyardAuthorize(target, users(i))));
    const pending = authorize.result.results;
    const forms = await pool(logins, settings.loginConcurrency, (i) => idpLogin(idp.url, pending[i]!));
    const complete = await measured(pid, () =>
      pool(logins, settings.loginConcurrency, (i) => lanyardComplete(target, pending[i]!, forms.results[i]!)),
    );
    const perSecond = (logins * 1000) / (authorize.result.ms + complete.result.ms);
    console.log(
      `${round === 0 ? 'warm-up' : String(round).padStart(7)} ${perSecond.toFixed(1).padStart(8)} | ` +
        `      ${fmt(authorize.main)} ${fmt(complete.main)} |        ${fmt(authorize.other)} ${fmt(complete.other)} | ` +
        `           ${fmt(authorize.loadGenerator)} ${fmt(complete.loadGenerator)}`,
    );
  }
} finally {
  await lanyard.stop();
  await idp.stop();
}
