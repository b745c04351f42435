import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cliVersion, versionRequest } from './version.ts';

describe('cliVersion', () => {
  const made: string[] = [];
  const tree = () => {
    const root = mkdtempSync(join(tmpdir(), 'lanyard-version-'));
    made.push(root);
    const start = join(root, 'cli', 'dist', 'bundle');
    mkdirSync(start, { recursive: true });
    return { root, start };
  };
  afterEach(() => made.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it("reads this package's own version (the module sits below packages/cli)", () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(cliVersion()).toBe(version);
  });

  it('passes over package.json files of other packages on the way up, nearer ones included', () => {
    const { root, start } = tree();
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'deployment', version: '9.9.9' }));
    writeFileSync(join(root, 'cli', 'package.json'), JSON.stringify({ name: '@lanyard/cli', version: '1.2.3' }));
    writeFileSync(join(root, 'cli', 'dist', 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(join(start, 'package.json'), '{ not json');
    expect(cliVersion(start)).toBe('1.2.3');
  });

  it('reads a package.json that starts with a byte-order mark, as Node and npm do', () => {
    const { root, start } = tree();
    writeFileSync(join(root, 'cli', 'package.json'), '\uFEFF' + JSON.stringify({ name: '@lanyard/cli', version: '2.0.0' }));
    expect(cliVersion(start)).toBe('2.0.0');
  });

  it('never blocks on a FIFO named package.json, and says "unknown" when no package.json is its own', () => {
    const { start } = tree();
    execFileSync('mkfifo', [join(start, 'package.json')]);
    expect(cliVersion(start)).toBe('unknown');
  });

  it('refuses a version that is not a short plain string (control characters, objects)', () => {
    const { root, start } = tree();
    writeFileSync(join(root, 'cli', 'package.json'), JSON.stringify({ name: '@lanyard/cli', version: '1.0.0\u001b[2J' }));
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: '@lanyard/cli', version: { major: 1 } }));
    expect(cliVersion(start)).toBe('unknown');
  });
});

describe('versionRequest', () => {
  it('is --version or -V alone, or with --json alone', () => {
    expect(versionRequest(['--version'])).toEqual({ json: false });
    expect(versionRequest(['-V'])).toEqual({ json: false });
    expect(versionRequest(['--version', '--json'])).toEqual({ json: true });
    expect(versionRequest(['--json', '-V'])).toEqual({ json: true });
  });

  it('leaves every other command line to the parser: -V as a value, after a command, doubled or with anything else', () => {
    for (const args of [
      [],
      ['--json'],
      ['accounts', '--version'],
      ['accounts', 'create', '--name', '-V'],
      ['--version', '--version'],
      ['--version', '-V'],
      ['--version', '--help'],
      ['--version', '--json', 'accounts'],
      ['--version=1'],
    ]) {
      expect(versionRequest(args), args.join(' ')).toBeUndefined();
    }
  });
});
