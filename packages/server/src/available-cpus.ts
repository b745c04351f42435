import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Reads a file's text; undefined where it cannot be read (absent, not a cgroup file system). */
export type ReadText = (path: string) => string | undefined;

const readText: ReadText = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/**
 * The CPUs this process can use, in whole CPUs (at least 1): `os.availableParallelism()` (the
 * cores it may run on), lowered to a container's CPU limit where one is set, which Node 20 does
 * not count. The limit is the CFS quota ÷ period of the process's cgroup: cgroup v2 `cpu.max`
 * ("200000 100000" is 2 CPUs, "max 100000" none), cgroup v1 `cpu.cfs_quota_us` ÷
 * `cpu.cfs_period_us` (a quota of -1: none). A fractional limit counts down (1.5 CPUs: 1).
 */
export function availableCpus(read: ReadText = readText, cores: number = availableParallelism()): number {
  const limit = cgroupCpuLimit(read);
  return Math.max(1, limit === undefined ? cores : Math.min(cores, Math.floor(limit)));
}

/** The process's cgroup CPU limit in CPUs; undefined without one or without cgroups (not Linux). */
export function cgroupCpuLimit(read: ReadText): number | undefined {
  const membership = read('/proc/self/cgroup');
  if (membership === undefined) return undefined;
  for (const line of membership.split('\n')) {
    // "hierarchy-ID:controllers:path"; cgroup v2 is "0::path", v1 names its controllers.
    const [, controllers, path] = line.split(':', 3);
    if (controllers === undefined || path === undefined) continue;
    if (controllers === '') {
      const max = firstReadable(read, cgroupDirs('/sys/fs/cgroup', path), 'cpu.max');
      const [quota, period] = (max ?? '').trim().split(/\s+/);
      if (quota !== undefined && period !== undefined && quota !== 'max') return ratio(quota, period);
    } else if (controllers.split(',').includes('cpu')) {
      for (const root of ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/cpuacct,cpu']) {
        const dirs = cgroupDirs(root, path);
        const quota = firstReadable(read, dirs, 'cpu.cfs_quota_us')?.trim();
        const period = firstReadable(read, dirs, 'cpu.cfs_period_us')?.trim();
        if (quota !== undefined && period !== undefined) return quota === '-1' ? undefined : ratio(quota, period);
      }
    }
  }
  return undefined;
}

/**
 * Where a cgroup's files are: under its path from /proc/self/cgroup, or at the mount's root when
 * the container has its own cgroup namespace (the path then reads "/" or is not mounted inside).
 */
function cgroupDirs(root: string, path: string): string[] {
  const own = `${root}${path === '/' ? '' : path}`;
  return own === root ? [root] : [own, root];
}

function firstReadable(read: ReadText, dirs: string[], file: string): string | undefined {
  for (const dir of dirs) {
    const text = read(`${dir}/${file}`);
    if (text !== undefined) return text;
  }
  return undefined;
}

function ratio(quota: string, period: string): number | undefined {
  const q = Number(quota);
  const p = Number(period);
  return Number.isFinite(q) && Number.isFinite(p) && q > 0 && p > 0 ? q / p : undefined;
}
