import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from '../../../demo/src/dev-idp/index.ts';
import { SamlResponseError } from '../errors.ts';
import { assertionOf, type SamlVerificationTask } from './saml-message-verification.ts';
import { SamlVerificationPool, verifyOnThisThread } from './saml-verification-pool.ts';

const AUDIENCE = 'urn:flex:JQ00000000000000000000000000000002';
const ACS = 'https://sso.example.test/login/callback?connection=JQ02';

describe('SamlVerificationPool (worker threads)', () => {
  let idp: DevIdp;
  let pool: SamlVerificationPool;
  const task = async (changes: Partial<SamlVerificationTask> = {}, attributes?: Record<string, string[]>): Promise<SamlVerificationTask> => {
    const { SAMLResponse } = await idp.createUnsolicitedResponse({
      userId: 'ada@example.com',
      acsUrl: ACS,
      audience: AUDIENCE,
      ...(attributes ? { attributes } : {}),
    });
    return {
      xml: Buffer.from(SAMLResponse, 'base64').toString('utf8'),
      certificates: [idp.certificatePem],
      decryptionKeys: [],
      allowRsa15KeyTransport: false,
      audience: AUDIENCE,
      clockSkewMs: 0,
      now: Date.now(),
      ...changes,
    };
  };

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0 });
    pool = new SamlVerificationPool({ threads: 2 });
    await pool.start();
  });
  afterAll(async () => {
    await pool?.close();
    await idp?.close();
  });

  it('returns what a verification on this thread returns, from a worker thread', async () => {
    const same = await task();
    const onWorker = await pool.verify(same);
    expect(onWorker).toEqual(await verifyOnThisThread.verify(same));
    expect(onWorker.assertion).toMatchObject({ nameId: 'ada@example.com', issuer: idp.entityId });
    expect(pool.verified).toEqual({ onWorkers: 1, onThisThread: 0 });
  });

  it('keeps attribute names from indexing Object.prototype once the message crossed threads', async () => {
    const message = await pool.verify(await task());
    // An IdP may name an attribute anything: as a structured clone carries it, then as read.
    message.assertion.attributeEntries.push(['constructor', ['x']], ['__proto__', ['y']]);
    const { attributes } = assertionOf(structuredClone(message));
    expect(Object.getPrototypeOf(attributes)).toBeNull();
    expect(attributes.constructor).toEqual(['x']);
    expect(Object.hasOwn(attributes, '__proto__')).toBe(true);
    expect(attributes.toString).toBeUndefined();
    expect(attributes.email).toEqual(['ada@example.com']);
  });

  it('refuses with the same typed error and message as on this thread, and reports Conditions without throwing them', async () => {
    const stranger = await startDevIdp({ port: 0 });
    try {
      const wrongKey = await task({ certificates: [stranger.certificatePem] });
      const here = await verifyOnThisThread.verify(wrongKey).catch((error: unknown) => error);
      const there = await pool.verify(wrongKey).catch((error: unknown) => error);
      expect(here).toBeInstanceOf(SamlResponseError);
      expect(there).toBeInstanceOf(SamlResponseError);
      expect((there as SamlResponseError).message).toBe((here as SamlResponseError).message);
      expect(there).toMatchObject({ code: 45010, status: 401, message: expect.stringMatching(/not made with the configured IdP certificate/) });
    } finally {
      await stranger.close();
    }
    // Judged at the caller's clock: an hour later, the assertion is outside its window.
    const late = await pool.verify(await task({ now: Date.now() + 3_600_000 }));
    expect(late.conditionsRefusal).toMatch(/outside its validity window/);
    const otherAudience = await pool.verify(await task({ audience: 'urn:flex:JQ-other' }));
    expect(otherAudience.conditionsRefusal).toMatch(/audience is not this service provider/);
  });

  it('verifies on this thread, and warns once, when its workers cannot start', async () => {
    const warnings: string[] = [];
    const broken = new SamlVerificationPool({
      threads: 1,
      workerFilename: '/nonexistent/saml-verification-worker.js',
      onWarning: (m) => warnings.push(m),
    });
    try {
      const first = await broken.verify(await task());
      expect(first.assertion.nameId).toBe('ada@example.com');
      await broken.verify(await task());
      expect(broken.verified).toEqual({ onWorkers: 0, onThisThread: 2 });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/SAML verification worker failed: .*verified on the main thread from now on \(LANYARD_SAML_WORKERS\)/);
    } finally {
      await broken.close();
    }
  });

  it('with 0 threads, or once closed, verifies on this thread', async () => {
    const none = new SamlVerificationPool({ threads: 0 });
    await none.start();
    await none.verify(await task());
    expect(none.verified).toEqual({ onWorkers: 0, onThisThread: 1 });
    const closed = new SamlVerificationPool({ threads: 1 });
    await closed.start();
    await closed.close();
    await closed.verify(await task());
    expect(closed.verified).toEqual({ onWorkers: 0, onThisThread: 1 });
  });
});
