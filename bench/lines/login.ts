import { createPublicKey } from 'node:crypto';
import { DOMParser } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import xpath from 'xpath';
import type { AutoPostForm } from '../../packages/demo/src/dev-idp/index.ts';
import { startChild, type Child } from '../lib/child.ts';
import {
  direct,
  idpLogin,
  jacksonAuthorize,
  jacksonComplete,
  lanyardAuthorize,
  lanyardComplete,
  pool,
  resentRequests,
  type PendingLogin,
} from '../lib/login.ts';
import type { Line } from '../lib/report.ts';
import { alternate, median, ratioOf, sideSummary, type Sample } from '../lib/rounds.ts';
import { processCpuMs } from '../lib/process-cpu.ts';
import { startLanyardUnderTest, type Settings } from '../lib/setup.ts';

const perSecond = (n: number, ms: number) => (n * 1000) / ms;

/** Uncounted rounds a side before the login line's counted ones (see loginLines). */
const LOGIN_WARMUPS = 3;

const fmt = (x: number) => `${x.toFixed(x >= 100 ? 0 : 1)}/s`;

/**
 * Timed in two phases, IdP excluded: (A) every authorize, (B) every ACS post + code exchange.
 * Between them, untimed, the dev IdP answers each AuthnRequest (InResponseTo) with its own
 * signed response. Logins per second = N ÷ (A + B).
 */
async function timedLogins(
  n: number,
  concurrency: number,
  idpUrl: string,
  authorize: (i: number) => Promise<PendingLogin>,
  complete: (p: PendingLogin, f: AutoPostForm) => Promise<void>,
) {
  const a = await pool(n, concurrency, authorize);
  const forms = await pool(n, concurrency, (i) => idpLogin(idpUrl, a.results[i]!));
  const sample = forms.results[0]!;
  const b = await pool(n, concurrency, (i) => complete(a.results[i]!, forms.results[i]!));
  return { ms: a.ms + b.ms, authorizeMs: a.ms, completeMs: b.ms, sample };
}

/** Raw cost: parse the same signed SAML response and check every XML signature in it. */
function xmlCryptoVerifiesPerSecond(samlResponse: string, certificatePem: string, seconds: number): number {
  // Single-threaded in the bench process: the same one core a Lanyard process gets.
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  // The certificate's key parsed once, as Lanyard does (crypto/parsed-keys.ts): a PEM string
  // would have OpenSSL parse it at every verify, a cost the raw baseline need not pay.
  const publicKey = createPublicKey(certificatePem);
  const verify = () => {
    const doc = new DOMParser().parseFromString(xml, 'text/xml');
    const signatures = xpath.select(
      "//*[local-name(.)='Signature' and namespace-uri(.)='http://www.w3.org/2000/09/xmldsig#']",
      doc as unknown as Node,
    ) as Node[];
    if (signatures.length === 0) throw new Error('no signature in the SAML response');
    for (const signature of signatures) {
      const signed = new SignedXml({ publicCert: publicKey });
      signed.loadSignature(signature);
      if (!signed.checkSignature(xml)) throw new Error('xml-crypto: signature invalid');
    }
  };
  verify();
  let count = 0;
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    verify();
    count++;
  }
  return perSecond(count, performance.now() - started);
}

export async function loginLines(idp: Child, settings: Settings): Promise<Line[]> {
  const n = settings.logins;
  const c = settings.loginConcurrency;
  const users = (i: number) => `agent${i % 100}@bench.example`;
  const lanyard = await startLanyardUnderTest('sqlite', idp, { label: 'login' });
  let jackson: Child | undefined;
  let jacksonError: string | undefined;
  try {
    jackson = await startChild('jackson');
    await jackson.call('setup', { metadataXml: idp.ready.metadataXml });
  } catch (error) {
    jacksonError = (error as Error).message.split('\n')[0]!.slice(0, 160);
    await jackson?.stop();
    jackson = undefined;
  }
  try {
    const target = { publicUrl: lanyard.child.url, connectionSid: lanyard.account.connectionSid, balance: direct };
    let sample: AutoPostForm | undefined;
    // Lanyard's CPU per login, every thread of its process (the verification runs on worker
    // threads): what the throughput ratios do not show when the server uses more than one core.
    const cpuPerLogin: Array<number | undefined> = [];
    const lanyardRound = async (): Promise<Sample> => {
      const cpuBefore = processCpuMs(lanyard.child.process.pid);
      const run = await timedLogins(
        n,
        c,
        idp.url,
        (i) => lanyardAuthorize(target, users(i)),
        (p, f) => lanyardComplete(target, p, f),
      );
      sample ??= run.sample;
      const cpuAfter = processCpuMs(lanyard.child.process.pid);
      cpuPerLogin.push(cpuBefore === undefined || cpuAfter === undefined ? undefined : (cpuAfter - cpuBefore) / n);
      return {
        value: perSecond(n, run.ms),
        detail: `authorize ${Math.round(run.authorizeMs)} ms + ACS→token ${Math.round(run.completeMs)} ms for ${n}`,
      };
    };
    // A whole Lanyard round, uncounted, provides the response the raw verify checks: the first
    // warm-up round runs the baselines first, so this is one Lanyard round on top of its warm-ups.
    const xmlRound = async (): Promise<Sample> => {
      sample ??= (await lanyardRound(), sample);
      return { value: xmlCryptoVerifiesPerSecond(sample!.fields.SAMLResponse!, idp.ready.certificatePem as string, settings.quick ? 0.5 : 1) };
    };
    const jacksonRound = async (): Promise<Sample> => {
      const url = jackson!.url;
      const run = await timedLogins(
        n,
        c,
        idp.url,
        (i) => jacksonAuthorize(url, users(i)),
        (p, f) => jacksonComplete(url, p, f),
      );
      return { value: perSecond(n, run.ms) };
    };
    // Three warm-up rounds a side, not one: Lanyard verifies on two worker threads, each an isolate
    // that compiles its own code, and after one round of 48 logins (about 24 a worker) its next
    // round ran 12-20 % below the median of the eight after it, while SAML Jackson (one thread)
    // was already steady (docs/benchmarks.md, twenty-third round). The first warm-up round runs
    // the baselines first, so xmlRound's sample round gives Lanyard one uncounted round more.
    const [vsXml, vsJackson] = await alternate(lanyardRound, jackson ? [xmlRound, jacksonRound] : [xmlRound], {
      rounds: settings.rounds,
      warmups: LOGIN_WARMUPS,
    });
    // The lines below describe verification on worker threads: make sure it happened there.
    const where = await lanyard.child.call<{ onWorkers: number; onThisThread: number; threads: number }>('samlVerified', {});
    if (where.threads > 0 && (where.onWorkers === 0 || where.onThisThread > 0)) {
      throw new Error(
        `Lanyard verified SAML responses on its main thread (${JSON.stringify(where)}): its workers did not start (run with BENCH_LOG_LEVEL=warn)`,
      );
    }
    const lines: Line[] = [
      {
        section: '',
        name: 'Full enhanced login (SQLite) vs raw xml-crypto verify',
        lanyard: sideSummary(vsXml!.a, fmt),
        baseline: `xml-crypto parse + verify of the same response, key parsed once: ${sideSummary(vsXml!.b, fmt)}`,
        ...ratioOf(vsXml!),
        better: 'higher',
        note: `IdP signing excluded; ${c} browsers in parallel, ${n} logins a round after ${LOGIN_WARMUPS} warm-up rounds a side (Lanyard one more: the round that gives the raw verify its response); baseline single-threaded in the bench process, Lanyard verifying on its worker threads (LANYARD_SAML_WORKERS, default one per usable CPU): the line below compares CPU`,
      },
    ];
    // The counted rounds are the last ones (alternate's warm-ups come first); the raw verify is
    // single-threaded, so its CPU per verify is the inverse of its rate.
    const cpu = cpuPerLogin.slice(-vsXml!.a.length);
    if (cpu.every((ms) => ms !== undefined && ms > 0)) {
      const rawMs = vsXml!.b.map((s) => 1000 / s.value);
      const ratios = cpu.map((ms, i) => rawMs[i]! / ms!);
      const ms = (v: number) => `${v.toFixed(2)} ms CPU`;
      lines.push({
        section: '',
        name: 'Full enhanced login (SQLite) CPU per login vs raw xml-crypto verify',
        lanyard: sideSummary(
          cpu.map((v) => ({ value: v! })),
          (v) => `${ms(v)} a login`,
        ),
        baseline: `xml-crypto parse + verify of the same response, key parsed once: ${sideSummary(
          rawMs.map((v) => ({ value: v })),
          (v) => `${ms(v)} a verify`,
        )}`,
        ...ratioOf({ ratios, median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), a: [], b: [] }),
        better: 'higher',
        note: 'ratio = raw CPU ÷ Lanyard CPU (1.0: a whole login costs what the raw verify alone does); Lanyard = every thread of its process over each round (/proc): the timed phases (authorize, ACS, token) and between them the untimed dev IdP phase, in which Lanyard serves nothing; the same rounds as the lines above',
      });
    }
    lines.push(
      vsJackson
        ? {
            section: '',
            name: 'Full enhanced login (SQLite) vs SAML Jackson',
            lanyard: sideSummary(vsJackson.a, fmt),
            baseline: `@boxyhq/saml-jackson (mem engine) authorize → ACS → token: ${sideSummary(vsJackson.b, fmt)}`,
            ...ratioOf(vsJackson),
            better: 'higher',
            note: `same dev IdP, same two-phase timing; requests resent after a connection reset (both sides): ${resentRequests()}`,
          }
        : {
            section: '',
            name: 'Full enhanced login (SQLite) vs SAML Jackson',
            lanyard: sideSummary(vsXml!.a, fmt),
            baseline: 'blocked',
            ratio: null,
            better: 'higher',
            note: `Jackson: ${jacksonError}`,
          },
    );
    return lines;
  } finally {
    await jackson?.stop();
    await lanyard.stop();
  }
}
