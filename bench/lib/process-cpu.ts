import { readFileSync } from 'node:fs';

/**
 * CPU time (ms, user + system) a process has used so far, all its threads, from Linux's
 * /proc/<pid>/stat; undefined when it cannot be read (no such process, not Linux).
 */
export function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  return statCpuMs(`/proc/${pid}/stat`);
}

/**
 * CPU time (ms, user + system) one thread of a process has used so far (its main thread when
 * `tid` is the pid), from /proc/<pid>/task/<tid>/stat; undefined when it cannot be read.
 */
export function threadCpuMs(pid: number, tid: number): number | undefined {
  return statCpuMs(`/proc/${pid}/task/${tid}/stat`);
}

function statCpuMs(path: string): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name (which may hold spaces and parentheses): utime and stime are
  // the 12th and 13th, in clock ticks of 10 ms.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}
