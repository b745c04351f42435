import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { availableCpus, cgroupCpuLimit, type ReadText } from './available-cpus.ts';

/** A file system holding only `files`, as a container shows its cgroup files. */
const files =
  (entries: Record<string, string>): ReadText =>
  (path) =>
    Object.hasOwn(entries, path) ? entries[path] : undefined;

describe('availableCpus', () => {
  it('counts a cgroup v2 limit (cpu.max) in whole CPUs, below the cores', () => {
    const v2 = (max: string) => files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': `${max}\n` });
    expect(availableCpus(v2('200000 100000'), 16)).toBe(2);
    expect(availableCpus(v2('150000 100000'), 16)).toBe(1);
    // Half a CPU still gets one worker's worth: never below 1.
    expect(availableCpus(v2('50000 100000'), 16)).toBe(1);
    // A limit above the cores the process may run on does not add any.
    expect(availableCpus(v2('800000 100000'), 2)).toBe(2);
    expect(availableCpus(v2('max 100000'), 16)).toBe(16);
  });

  it("reads the process's own cgroup directory, and the mount's root in a cgroup namespace", () => {
    const nested = files({ '/proc/self/cgroup': '0::/kubepods/pod1/c1\n', '/sys/fs/cgroup/kubepods/pod1/c1/cpu.max': '300000 100000' });
    expect(cgroupCpuLimit(nested)).toBe(3);
    const namespaced = files({ '/proc/self/cgroup': '0::/kubepods/pod1/c1\n', '/sys/fs/cgroup/cpu.max': '100000 100000' });
    expect(cgroupCpuLimit(namespaced)).toBe(1);
  });

  it('counts a cgroup v1 CFS quota, with the cpu controller mounted alone or with cpuacct', () => {
    const v1 = (root: string, quota: string) =>
      files({
        '/proc/self/cgroup': '12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n',
        [`${root}/docker/abc/cpu.cfs_quota_us`]: `${quota}\n`,
        [`${root}/docker/abc/cpu.cfs_period_us`]: '100000\n',
      });
    expect(availableCpus(v1('/sys/fs/cgroup/cpu', '250000'), 8)).toBe(2);
    expect(availableCpus(v1('/sys/fs/cgroup/cpu,cpuacct', '100000'), 8)).toBe(1);
    // -1: no quota.
    expect(availableCpus(v1('/sys/fs/cgroup/cpu', '-1'), 8)).toBe(8);
  });

  it('falls back to the cores without cgroups (not Linux) or when the files say nothing usable', () => {
    expect(availableCpus(files({}), 6)).toBe(6);
    expect(availableCpus(files({ '/proc/self/cgroup': '0::/\n' }), 6)).toBe(6);
    expect(availableCpus(files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': 'garbage' }), 6)).toBe(6);
    expect(availableCpus(files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '0 100000' }), 6)).toBe(6);
    // A controller list that only contains "cpu" as part of another name is not the cpu controller.
    expect(cgroupCpuLimit(files({ '/proc/self/cgroup': '3:cpuset:/\n', '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '100000' }))).toBeUndefined();
  });

  it('takes the smallest limit of the cgroup and the cgroups above it (a slice or pod limit)', () => {
    const tree = files({
      '/proc/self/cgroup': '0::/system.slice/lanyard.service\n',
      '/sys/fs/cgroup/system.slice/lanyard.service/cpu.max': 'max 100000',
      '/sys/fs/cgroup/system.slice/cpu.max': '150000 100000',
      '/sys/fs/cgroup/cpu.max': '400000 100000',
    });
    expect(availableCpus(tree, 8)).toBe(1);
    const v1 = files({
      '/proc/self/cgroup': '1:cpu:/kubepods/pod1/c1\n',
      '/sys/fs/cgroup/cpu/kubepods/pod1/c1/cpu.cfs_quota_us': '-1',
      '/sys/fs/cgroup/cpu/kubepods/pod1/c1/cpu.cfs_period_us': '100000',
      '/sys/fs/cgroup/cpu/kubepods/pod1/cpu.cfs_quota_us': '300000',
      '/sys/fs/cgroup/cpu/kubepods/pod1/cpu.cfs_period_us': '100000',
    });
    expect(cgroupCpuLimit(v1)).toBe(3);
    // A cgroup outside this namespace ("/../x") is not under the mount: no limit is read for it.
    expect(cgroupCpuLimit(files({ '/proc/self/cgroup': '0::/../x\n', '/sys/fs/cgroup/x/cpu.max': '100000 100000' }))).toBeUndefined();
    // A path holding colons is read whole.
    expect(cgroupCpuLimit(files({ '/proc/self/cgroup': '0::/a:b\n', '/sys/fs/cgroup/a:b/cpu.max': '200000 100000' }))).toBe(2);
  });

  it('reads this machine without failing: at least one CPU, no more than its cores', () => {
    const cpus = availableCpus();
    expect(cpus).toBeGreaterThanOrEqual(1);
    expect(cpus).toBeLessThanOrEqual(availableParallelism());
    expect(Number.isInteger(cpus)).toBe(true);
  });
});
