/**
 * Where a login's CPU goes, over the timed phases of the login line alone: Lanyard's main thread,
 * its other threads (SAML verification workers, libuv's pool that signs tokens and deflates
 * AuthnRequests, V8's helpers) and the load generator (this process), per login, for the
 * authorize phase and the ACS → token phase. What the login line's ratios do not show: whether
 * the cores were busy, and who kept them busy (twenty-first round, docs/benchmarks.md).
 *
 * Usage: node --import tsx bench/login-cpu.ts [rounds, default 4] [logins a round, default 96]
 * Linux only (/proc/<pid>/task/*\/stat: CPU time in 10 ms ticks, so 0.1 ms a login at 96 logins).
 * SQLite, 8 browsers in parallel, the dev IdP signing each response between the phases (untimed,
 * not counted), as the login line runs them. One warm-up round, not counted, then `rounds`
 * rounds; prints per round: logins per second over the two phases, then ms of CPU per login by
 * thread group and phase.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { startChild } from './lib/child.ts';
import { direct, idpLogin, lanyardAuthorize, lanyardComplete, pool } from './lib/login.ts';
import { settings, startLanyardUnderTest } from './lib/setup.ts';

const [roundsArg = '4', loginsArg = '96'] = process.argv.slice(2);
const rounds = Number(roundsArg);
const logins = Number(loginsArg);
for (const [name, value, text] of [
  ['rounds', rounds, roundsArg],
  ['logins a round', logins, loginsArg],
] as const) {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a whole number of at least 1, got "${text}"`);
}

interface ThreadCpu {
  main: number;
  other: number;
}

/** CPU (ms) of the process's main thread and of all its other threads, from /proc. */
function threadCpu(pid: number): ThreadCpu {
  const cpu = { main: 0, other: 0 };
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
    } catch {
      continue; // a thread that ended meanwhile
    }
    // utime and stime, after the command name (which may hold spaces), in ticks of 10 ms.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ms = ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
    if (task === String(pid)) cpu.main += ms;
    else cpu.other += ms;
  }
  return cpu;
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
  console.log('round  logins/s | main: authorize  ACS→token | other threads: authorize  ACS→token | load generator: authorize  ACS→token');
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
        `${fmt(authorize.main)} ${fmt(complete.main)} | ${fmt(authorize.other)} ${fmt(complete.other)} | ` +
        `${fmt(authorize.loadGenerator)} ${fmt(complete.loadGenerator)}`,
    );
  }
} finally {
  await lanyard.stop();
  await idp.stop();
}
