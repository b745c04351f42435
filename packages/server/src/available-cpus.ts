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
 * not count. The limit is the smallest CFS quota ÷ period of the process's cgroup and those above
 * it (`cgroupCpuLimit`): cgroup v2 `cpu.max` ("200000 100000" is 2 CPUs, "max 100000" none),
 * cgroup v1 `cpu.cfs_quota_us` ÷ `cpu.cfs_period_us` (a quota of -1: none). A fractional limit
 * counts down (1.5 CPUs: 1).
 */
export function availableCpus(read: ReadText = readText, cores: number = availableParallelism()): number {
  const limit = cgroupCpuLimit(read);
  return Math.max(1, limit === undefined ? cores : Math.min(cores, Math.floor(limit)));
}

/**
 * The process's cgroup CPU limit in CPUs: the smallest quota ÷ period set on its cgroup or on any
 * cgroup above it (a systemd slice's `CPUQuota=`, a pod-level limit), in either hierarchy;
 * undefined without one or without cgroups (not Linux).
 */
export function cgroupCpuLimit(read: ReadText): number | undefined {
  const membership = read('/proc/self/cgroup');
  if (membership === undefined) return undefined;
  const limits: number[] = [];
  for (const line of membership.split('\n')) {
    // "hierarchy-ID:controllers:path"; cgroup v2 is "0::path", v1 names its controllers. The
    // path is everything after the second colon (it may hold colons itself).
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1).trim();
    // "/../x": a cgroup outside this process's cgroup namespace, not under the mount here.
    if (path.split('/').includes('..')) continue;
    if (controllers === '') {
      for (const dir of selfAndAncestors('/sys/fs/cgroup', path)) {
        const [quota, period] = (read(`${dir}/cpu.max`) ?? '').trim().split(/\s+/);
        if (quota !== undefined && period !== undefined && quota !== 'max') pushLimit(limits, quota, period);
      }
    } else if (controllers.split(',').includes('cpu')) {
      for (const root of ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/cpuacct,cpu']) {
        for (const dir of selfAndAncestors(root, path)) {
          const quota = read(`${dir}/cpu.cfs_quota_us`)?.trim();
          const period = read(`${dir}/cpu.cfs_period_us`)?.trim();
          // -1: no quota at this level.
          if (quota !== undefined && period !== undefined && quota !== '-1') pushLimit(limits, quota, period);
        }
      }
    }
  }
  return limits.length === 0 ? undefined : Math.min(...limits);
}

/**
 * The cgroup's directory and every one above it up to the mount's root. In a container with its
 * own cgroup namespace the path may name directories that are not mounted inside: those read as
 * absent, and the root (the container's own cgroup) is still read.
 */
function selfAndAncestors(root: string, path: string): string[] {
  const parts = path.split('/').filter((part) => part !== '' && part !== '.');
  return parts.map((_, i) => `${root}/${parts.slice(0, parts.length - i).join('/')}`).concat(root);
}

function pushLimit(limits: number[], quota: string, period: string): void {
  const limit = ratio(quota, period);
  if (limit !== undefined) limits.push(limit);
}

function ratio(quota: string, period: string): number | undefined {
  const q = Number(quota);
  const p = Number(period);
  return Number.isFinite(q) && Number.isFinite(p) && q > 0 && p > 0 ? q / p : undefined;
}
