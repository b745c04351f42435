import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from '../../../demo/src/dev-idp/index.ts';
import { SamlResponseError, SamlVerificationUnavailableError } from '../errors.ts';
import { checkConditions } from './saml-assertion.ts';
import type { SamlVerificationTask } from './saml-message-verification.ts';
import { assertionOf } from './saml-verified-message.ts';
import { SamlVerificationPool, verifyOnThisThread } from './saml-verification-pool.ts';

const AUDIENCE = 'urn:flex:JQ00000000000000000000000000000002';
const ACS = 'https://sso.example.test/login/callback?connection=JQ02';
/** A worker that hangs, dies or dawdles on request (test/support/saml-worker-faults.ts). */
const FAULTY_WORKER = fileURLToPath(new URL('../../../../test/support/saml-worker-faults.ts', import.meta.url));
/** A worker that never answers, not even the start-up probe. */
const HANGING_WORKER = fileURLToPath(new URL('../../../../test/support/saml-worker-hangs.ts', import.meta.url));
const fault = (xml: '<hang/>' | '<die/>' | '<slow/>'): SamlVerificationTask => ({
  xml,
  certificates: ['-'],
  decryptionKeys: [],
  allowRsa15KeyTransport: false,
});

describe('SamlVerificationPool (worker threads)', () => {
  let idp: DevIdp;
  let pool: SamlVerificationPool;
  const task = async (changes: Partial<SamlVerificationTask> = {}): Promise<SamlVerificationTask> => {
    const { SAMLResponse } = await idp.createUnsolicitedResponse({ userId: 'ada@example.com', acsUrl: ACS, audience: AUDIENCE });
    return {
      xml: Buffer.from(SAMLResponse, 'base64').toString('utf8'),
      certificates: [idp.certificatePem],
      decryptionKeys: [],
      allowRsa15KeyTransport: false,
      ...changes,
    };
  };
  /** Each promise's state so far, read after a moment (without waiting for them). */
  const tracked = (promises: Array<Promise<unknown>>) => {
    const states = promises.map(() => 'pending');
    promises.forEach((p, i) =>
      p.then(
        () => (states[i] = 'verified'),
        () => (states[i] = 'refused'),
      ),
    );
    return async (afterMs = 50) => {
      await new Promise((resolve) => setTimeout(resolve, afterMs));
      return [...states];
    };
  };

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0 });
    pool = new SamlVerificationPool({ threads: 2 });
    // What the server logs once it is ready.
    expect(await pool.start()).toBe('on 2 worker threads (LANYARD_SAML_WORKERS)');
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

  it('refuses with the same typed error and message as on this thread, and hands the Conditions back for the caller’s clock', async () => {
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
    const { conditions } = await pool.verify(await task());
    expect(conditions).toMatchObject({ count: 1, audienceRestrictions: [[AUDIENCE]] });
    expect(() => checkConditions(conditions, AUDIENCE, Date.now(), 0)).not.toThrow();
    expect(() => checkConditions(conditions, AUDIENCE, Date.now() + 3_600_000, 0)).toThrow(/Conditions NotOnOrAfter has passed/);
    expect(() => checkConditions(conditions, 'urn:flex:JQ-other', Date.now(), 0)).toThrow(/audience is not this service provider/);
  });

  it('verifies every response on this thread, and warns once, when its workers cannot start', async () => {
    const warnings: string[] = [];
    const broken = new SamlVerificationPool({
      threads: 2,
      workerFilename: '/nonexistent/saml-verification-worker.js',
      onWarning: (m) => warnings.push(m),
    });
    try {
      // Arriving together, before the pool has found out: none is left waiting.
      const all = await Promise.all([task(), task(), task(), task()].map(async (t) => broken.verify(await t)));
      expect(all.map((m) => m.assertion.nameId)).toEqual(Array(4).fill('ada@example.com'));
      expect(broken.verified).toEqual({ onWorkers: 0, onThisThread: 4 });
      expect(await broken.start()).toBe('on the main thread: the workers could not start');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/SAML verification workers could not start: .*verified on the main thread \(LANYARD_SAML_WORKERS\)/);
    } finally {
      await broken.close();
    }
  });

  it('refuses with a 503, never on this thread, a response whose worker dies or runs past the timeout; the pool goes on', async () => {
    const warnings: string[] = [];
    // The timeout also bounds the replaced worker's start-up for the next response: over 1 s on a
    // loaded 2-core runner (CI lost the test so), hence 3 s.
    const faulty = new SamlVerificationPool({ threads: 1, workerFilename: FAULTY_WORKER, timeoutMs: 3_000, onWarning: (m) => warnings.push(m) });
    try {
      await faulty.start();
      const died = await faulty.verify(fault('<die/>')).catch((error: unknown) => error);
      expect(died).toBeInstanceOf(SamlVerificationUnavailableError);
      expect(died).toMatchObject({ status: 503, code: 20530, message: expect.stringMatching(/could not be verified on this node/) });
      const hung = await faulty.verify(fault('<hang/>')).catch((error: unknown) => error);
      expect(hung).toMatchObject({ status: 503, message: expect.stringMatching(/took too long/) });
      // The replaced worker verifies the next one.
      expect((await faulty.verify(await task())).assertion.nameId).toBe('ada@example.com');
      expect(faulty.verified).toEqual({ onWorkers: 1, onThisThread: 0 });
      // A second death within the minute is refused the same way, and not logged again.
      await expect(faulty.verify(fault('<die/>'))).rejects.toMatchObject({ code: 20530 });
      expect(warnings).toHaveLength(2);
      expect(warnings[0]).toMatch(/stopped while verifying a response: .*it was replaced/);
      expect(warnings[1]).toMatch(/not verified within 3000 ms of arriving, waiting for a worker included/);
    } finally {
      await faulty.close();
    }
  });

  it('refuses with a 503 what does not fit its queue, and everything once closed', async () => {
    const faulty = new SamlVerificationPool({ threads: 1, workerFilename: FAULTY_WORKER, maxQueue: 2 });
    await faulty.start();
    // One running, two waiting: the rest are refused at once.
    const six = [0, 1, 2, 3, 4, 5].map(() => faulty.verify(fault('<slow/>')));
    const statesOf = tracked(six);
    expect(await statesOf()).toEqual(['pending', 'pending', 'pending', 'refused', 'refused', 'refused']);
    await expect(six[3]).rejects.toMatchObject({ status: 503, message: expect.stringMatching(/too many sign-ins at once/) });
    // Closing cuts what runs and waits, at once (not after the 3 × 5 s they would take, nor after
    // one); nothing is verified afterwards.
    const closing = performance.now();
    await faulty.close();
    expect(performance.now() - closing).toBeLessThan(3_000);
    for (const cut of six.slice(0, 3)) await expect(cut).rejects.toMatchObject({ code: 20530, message: expect.stringMatching(/shutting down/) });
    expect((await statesOf(0)).slice(0, 3)).toEqual(['refused', 'refused', 'refused']);
    await expect(faulty.verify(await task())).rejects.toMatchObject({ status: 503, message: expect.stringMatching(/shutting down/) });
    expect(faulty.verified.onThisThread).toBe(0);
  });

  it('gives up workers that do not answer their start-up check in time, and says so', async () => {
    const warnings: string[] = [];
    const stuck = new SamlVerificationPool({ threads: 1, workerFilename: HANGING_WORKER, startTimeoutMs: 500, onWarning: (m) => warnings.push(m) });
    try {
      expect(await stuck.start()).toBe('on the main thread: the workers could not start');
      expect(warnings).toEqual([
        'the SAML verification workers could not start: they did not answer within 0.5 s of starting (a machine too busy to load them?); SAML responses are verified on the main thread (LANYARD_SAML_WORKERS)',
      ]);
      await stuck.verify(await task());
      expect(stuck.verified).toEqual({ onWorkers: 0, onThisThread: 1 });
    } finally {
      await stuck.close();
    }
  });

  it('closed while its workers start (a probe that never answers): closes at once, and refuses what waited', async () => {
    const warnings: string[] = [];
    const stuck = new SamlVerificationPool({ threads: 2, workerFilename: HANGING_WORKER, onWarning: (m) => warnings.push(m) });
    void stuck.start();
    const waiting = stuck.verify(await task()).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const closing = performance.now();
    await stuck.close();
    // "At once": under the pool's 10 s verification timeout by far, with room for a loaded runner.
    expect(performance.now() - closing).toBeLessThan(3_000);
    expect(await waiting).toMatchObject({ code: 20530, message: expect.stringMatching(/shutting down/) });
    expect(stuck.verified).toEqual({ onWorkers: 0, onThisThread: 0 });
    expect(warnings).toEqual([]);
    // Closed in the same tick as the start: nothing is left running, and it does not wait for a probe.
    const sameTick = new SamlVerificationPool({ threads: 1, workerFilename: HANGING_WORKER });
    const started = sameTick.start();
    const closingNow = performance.now();
    await sameTick.close();
    expect(await started).toBe('nowhere: the node is shutting down');
    expect(performance.now() - closingNow).toBeLessThan(3_000);
    // Closed before it ever started: it never starts.
    const never = new SamlVerificationPool({ threads: 1, workerFilename: FAULTY_WORKER });
    await never.close();
    await never.start();
    await expect(never.verify(await task())).rejects.toMatchObject({ code: 20530 });
  });

  it('with 0 threads verifies on this thread', async () => {
    const none = new SamlVerificationPool({ threads: 0 });
    expect(await none.start()).toBe('on the main thread (LANYARD_SAML_WORKERS=0)');
    await none.verify(await task());
    expect(none.verified).toEqual({ onWorkers: 0, onThisThread: 1 });
  });
});
