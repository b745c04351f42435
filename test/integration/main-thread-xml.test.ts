import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { cliSandbox, ROOT } from '../support/cli.ts';
import { serveUntilReady } from '../support/serve.ts';
import { DESKTOP_URL, flexLogin } from '../support/flows.ts';

/**
 * A node's main thread loads no XML library when its SAML verification workers answer: it
 * builds AuthnRequests from a template (connections/saml-authn-request.ts) and reads verified
 * responses as plain data (connections/saml-verified-message.ts), so that a fresh node is ready
 * sooner (the XML stack loaded on the main thread held `/readyz` longer: issue 16, and
 * docs/benchmarks.md's twenty-fifth round).
 * The production entry (`lanyard serve`, built) signs a user in through the development IdP;
 * a preloaded probe (test/support/xml-modules-probe.mjs) lists what the main thread loaded.
 */
const PROBE = join(ROOT, 'test/support/xml-modules-probe.mjs');

describe("lanyard serve's main thread and the XML libraries", () => {
  const cli = cliSandbox();
  let idp: DevIdp;
  let connectionSid: string;

  beforeAll(async () => {
    idp = await startDevIdp();
    const accountSid = (await cli.json('accounts', 'create', '--name', 'Main thread')).sid as string;
    const metadata = join(cli.dir, 'idp.xml');
    writeFileSync(metadata, idp.metadataXml);
    connectionSid = (await cli.json('sso', 'set', accountSid, '--metadata', metadata)).sid as string;
    await cli.json('trusted-urls', 'add', accountSid, DESKTOP_URL);
    await cli.json('redirect-url', 'set', accountSid, DESKTOP_URL);
  });
  afterAll(async () => {
    await idp?.close();
    cli.cleanup();
  });

  /** Serves until /readyz is 200, signs Ada in, stops with SIGTERM; the XML library files the main thread loaded. */
  async function signInAndList(samlWorkers: string): Promise<string[]> {
    const out = join(cli.dir, `xml-modules-${samlWorkers}.json`);
    const { child, origin, stderr } = await serveUntilReady({
      env: {
        ...cli.env,
        NODE_OPTIONS: `--import ${PROBE}`,
        LANYARD_TEST_XML_MODULES_OUT: out,
        LANYARD_SAML_WORKERS: samlWorkers,
        LANYARD_LOG_LEVEL: 'warn',
      },
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const login = await flexLogin({ url: origin }, idp, connectionSid, 'ada@example.com');
      expect(login.code, stderr()).toMatch(/\S/);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited, stderr()).toBe(0);
    return JSON.parse(readFileSync(out, 'utf8')) as string[];
  }

  it('signs a user in (AuthnRequest built, response verified on workers) without loading one on its main thread', { timeout: 60_000 }, async () => {
    expect(await signInAndList('2')).toEqual([]);
  });

  it(
    'the control: verifying on the main thread (LANYARD_SAML_WORKERS=0), the probe sees xml-crypto and xmldom there',
    { timeout: 60_000 },
    async () => {
      const loaded = await signInAndList('0');
      expect(loaded.some((file) => file.startsWith('xml-crypto/'))).toBe(true);
      expect(loaded.some((file) => file.startsWith('@xmldom/xmldom/'))).toBe(true);
    },
  );
});
