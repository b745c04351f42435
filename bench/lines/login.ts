import { DOMParser } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import xpath from 'xpath';
import type { AutoPostForm } from '../../packages/demo/src/dev-idp/index.ts';
import { startChild, type Child } from '../lib/child.ts';
import { direct, idpLogin, jacksonAuthorize, jacksonComplete, lanyardAuthorize, lanyardComplete, pool, type PendingLogin } from '../lib/login.ts';
import type { Line } from '../lib/report.ts';
import { startLanyardUnderTest, type Settings } from '../lib/setup.ts';

const perSecond = (n: number, ms: number) => (n * 1000) / ms;
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
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  const verify = () => {
    const doc = new DOMParser().parseFromString(xml, 'text/xml');
    const signatures = xpath.select(
      "//*[local-name(.)='Signature' and namespace-uri(.)='http://www.w3.org/2000/09/xmldsig#']",
      doc as unknown as Node,
    ) as Node[];
    if (signatures.length === 0) throw new Error('no signature in the SAML response');
    for (const signature of signatures) {
      const signed = new SignedXml({ publicCert: certificatePem });
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
  const lines: Line[] = [];
  const lanyard = await startLanyardUnderTest('sqlite', idp, { label: 'login' });
  let lanyardRate: number;
  let sample: AutoPostForm;
  try {
    const target = { publicUrl: lanyard.child.url, connectionSid: lanyard.account.connectionSid, balance: direct };
    await timedLogins(
      Math.min(20, n),
      c,
      idp.url,
      (i) => lanyardAuthorize(target, users(i)),
      (p, f) => lanyardComplete(target, p, f),
    ); // warm-up
    const run = await timedLogins(
      n,
      c,
      idp.url,
      (i) => lanyardAuthorize(target, users(i)),
      (p, f) => lanyardComplete(target, p, f),
    );
    lanyardRate = perSecond(n, run.ms);
    sample = run.sample;
    const xmlRate = xmlCryptoVerifiesPerSecond(sample.fields.SAMLResponse!, idp.ready.certificatePem as string, settings.quick ? 1 : 3);
    lines.push({
      section: '',
      name: 'Full enhanced login (SQLite) vs raw xml-crypto verify',
      lanyard: `${fmt(lanyardRate)} (authorize ${Math.round(run.authorizeMs)} ms + ACS→token ${Math.round(run.completeMs)} ms for ${n})`,
      baseline: `xml-crypto parse + verify of the same response: ${fmt(xmlRate)}`,
      ratio: lanyardRate / xmlRate,
      better: 'higher',
      note: `IdP signing excluded; ${c} browsers in parallel; baseline single-threaded in the bench process`,
    });
  } finally {
    await lanyard.stop();
  }

  let jackson: Child | undefined;
  try {
    jackson = await startChild('jackson');
    await jackson.call('setup', { metadataXml: idp.ready.metadataXml });
    const url = jackson.url;
    await timedLogins(
      Math.min(20, n),
      c,
      idp.url,
      (i) => jacksonAuthorize(url, users(i)),
      (p, f) => jacksonComplete(url, p, f),
    );
    const run = await timedLogins(
      n,
      c,
      idp.url,
      (i) => jacksonAuthorize(url, users(i)),
      (p, f) => jacksonComplete(url, p, f),
    );
    const rate = perSecond(n, run.ms);
    lines.push({
      section: '',
      name: 'Full enhanced login (SQLite) vs SAML Jackson',
      lanyard: fmt(lanyardRate),
      baseline: `@boxyhq/saml-jackson (mem engine) authorize → ACS → token: ${fmt(rate)}`,
      ratio: lanyardRate / rate,
      better: 'higher',
      note: 'same dev IdP, same two-phase timing',
    });
  } catch (error) {
    lines.push({
      section: '',
      name: 'Full enhanced login vs SAML Jackson',
      lanyard: fmt(lanyardRate),
      baseline: 'blocked',
      ratio: null,
      better: 'higher',
      note: `Jackson: ${(error as Error).message.split('\n')[0]!.slice(0, 160)}`,
    });
  } finally {
    await jackson?.stop();
  }
  return lines;
}
