import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MISSING_ACCOUNT_SID, validateAppConfig, type ResolvedAppConfig } from '../../packages/sdk/src/app-config.ts';

/**
 * Property-based tests of the SDK's appConfig validator (packages/sdk/src/app-config.ts), from
 * the attacker's side: a desktop's appConfig.js is served with the page, so a hostile or broken
 * value must never make the SDK send the sign-in back to another site, post tokens over plain
 * http or to a URL with credentials in it, or crash instead of saying what is wrong.
 */

const RUNS = { numRuns: 1500 };
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const PAGES = [
  'https://desk.example.com/agent/',
  'https://desk.example.com:8443/',
  'http://localhost:3000/',
  'http://127.0.0.1:5173/desktop/',
  'https://flex.twilio.com/agent-desktop/',
];

const hex32 = fc.stringMatching(/^[0-9a-fA-F]{32}$/);
const sidLike = (prefix: string) =>
  fc.oneof(
    hex32.map((h) => prefix + h),
    hex32.map((h) => prefix + h.slice(1)),
    hex32.map((h) => prefix.toLowerCase() + h),
    fc.string(),
    fc.constant(''),
    fc.constant(undefined),
    fc.integer(),
    fc.constant(null),
  );

/** URL values an attacker or a typo could put in appConfig, relative to the page they run on. */
const urlValue = (page: string) => {
  const origin = new URL(page).origin;
  const host = new URL(page).host;
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc.constantFrom(
        `${origin}/`,
        `${origin}/desktop/`,
        `${origin}/cb?x=1`,
        `${origin}/cb#frag`,
        `https://evil.example/`,
        `http://evil.example/`,
        `http://${host}/`,
        `https://${host}@evil.example/`,
        `https://user:pass@${host}/`,
        `https://evil.example\\@${host}/`,
        `https://${host}\\@evil.example/`,
        `//evil.example/`,
        '/relative',
        'javascript:alert(1)',
        'data:text/html,x',
        `https://${host}.evil.example/`,
        `HTTPS://${host.toUpperCase()}/`,
        ' https://evil.example',
        `${origin}/%2F%2Fevil.example`,
        '',
        `${origin}/?next=https://evil.example`,
        `${origin}/#`,
        `http://user@${host}/`,
      ),
    },
    {
      weight: 2,
      arbitrary: fc.webUrl({ withFragments: true, withQueryParameters: true, authoritySettings: { withUserInfo: true, withPort: true } }),
    },
    { weight: 1, arbitrary: fc.string() },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.integer() },
  );
};

const appConfig = (page: string) =>
  fc.record(
    {
      sso: fc.oneof(
        fc.record(
          {
            accountSid: sidLike('AC'),
            loginPopup: fc.oneof(fc.boolean(), fc.constant('true'), fc.constant(undefined)),
            loginPopupFeatures: fc.oneof(
              fc.constant(undefined),
              fc.constantFrom('width=500,height=650', 'noopener', 'width=1,noreferrer'),
              fc.string(),
            ),
            redirectUrl: urlValue(page),
            loginUrl: urlValue(page),
            tokenRefreshUrl: urlValue(page),
            idpUrl: urlValue(page),
            serviceBaseUrl: urlValue(page),
          },
          { requiredKeys: [] },
        ),
        fc.constantFrom(null, 'AC', [], 42),
      ),
      oauth: fc.oneof(
        fc.record(
          {
            connection: sidLike('JQ'),
            clientId: fc.oneof(fc.string(), fc.constant(undefined)),
            redirectUrl: urlValue(page),
            authorizeUrl: urlValue(page),
            tokenUrl: urlValue(page),
            serviceBaseUrl: urlValue(page),
          },
          { requiredKeys: [] },
        ),
        fc.constantFrom(null, 'yes', []),
      ),
    },
    { requiredKeys: [] },
  );

const URL_FIELDS = [
  'sso.redirectUrl',
  'sso.loginUrl',
  'sso.tokenRefreshUrl',
  'sso.idpUrl',
  'sso.serviceBaseUrl',
  'oauth.redirectUrl',
  'oauth.authorizeUrl',
  'oauth.tokenUrl',
  'oauth.serviceBaseUrl',
];

/**
 * A working appConfig for the page (enhanced or legacy) with up to three fields replaced by
 * hostile values: most samples are then accepted or refused on exactly those fields, so the
 * properties about accepted configurations are exercised, not vacuous.
 */
const mutatedConfig = (page: string) =>
  fc
    .tuple(
      fc.boolean(),
      fc.subarray(URL_FIELDS, { maxLength: 3 }),
      fc.oneof({ weight: 5, arbitrary: hex32.map((h) => 'AC' + h) }, { weight: 1, arbitrary: sidLike('AC') }),
      fc.oneof({ weight: 5, arbitrary: hex32.map((h) => 'JQ' + h) }, { weight: 1, arbitrary: sidLike('JQ') }),
    )
    .chain(([enhanced, fields, accountSid, connection]) =>
      fc.tuple(...fields.map(() => urlValue(page))).map((values) => {
        const origin = new URL(page).origin;
        const config: { sso: Record<string, unknown>; oauth?: Record<string, unknown> } = {
          sso: { accountSid, serviceBaseUrl: 'https://sso.example.com' },
        };
        if (enhanced) config.oauth = { connection, clientId: 'client-1', redirectUrl: `${origin}/`, serviceBaseUrl: 'https://sso.example.com' };
        fields.forEach((field, i) => {
          const [section, key] = field.split('.') as ['sso' | 'oauth', string];
          (config[section] ??= {})[key] = values[i];
        });
        return config;
      }),
    );

const scenario = fc
  .constantFrom(...PAGES)
  .chain((page) => fc.tuple(fc.constant(page), fc.oneof({ weight: 4, arbitrary: mutatedConfig(page) }, { weight: 1, arbitrary: appConfig(page) })));

/** Where tokens and codes travel: https, or http on this machine only, never with credentials. */
function expectSafeEndpoint(value: string | undefined, label: string): void {
  if (value === undefined) return;
  const url = new URL(value);
  expect(url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname)), `${label} ${value}`).toBe(true);
  expect(url.username + url.password, `${label} ${value}`).toBe('');
}

function endpoints(config: ResolvedAppConfig): Record<string, string | undefined> {
  return config.mode === 'enhanced'
    ? { authorizeUrl: config.authorizeUrl, tokenUrl: config.tokenUrl, revokeUrl: config.revokeUrl }
    : { loginUrl: config.loginUrl, tokenRefreshUrl: config.tokenRefreshUrl, idpUrl: config.idpUrl };
}

describe('appConfig validator properties', () => {
  it('the scenario generator yields accepted configurations of both modes (so the properties below bite)', () => {
    const results = fc.sample(scenario, 2000).map(([page, input]) => validateAppConfig(input, { pageUrl: page }));
    const accepted = results.filter((r) => r.ok);
    expect(accepted.length).toBeGreaterThan(300);
    expect(accepted.filter((r) => r.config.mode === 'enhanced').length).toBeGreaterThan(100);
    expect(accepted.filter((r) => r.config.mode === 'legacy').length).toBeGreaterThan(100);
  });

  it('never throws, and every refusal names a field and says what to do', () => {
    fc.assert(
      fc.property(fc.constantFrom(...PAGES), fc.oneof(fc.anything(), fc.jsonValue(), appConfig(PAGES[0]!)), (page, input) => {
        const result = validateAppConfig(input, { pageUrl: page });
        if (!result.ok) {
          expect(result.problems.length).toBeGreaterThan(0);
          for (const problem of result.problems) {
            expect(problem.field).toMatch(/^(appConfig|sso|oauth|serviceBaseUrl)(\.[A-Za-z]+)?$/);
            expect(problem.message.length).toBeGreaterThan(20);
          }
        }
      }),
      RUNS,
    );
  });

  it("only ever resolves a redirect on the page's own origin, without query, fragment or credentials", () => {
    fc.assert(
      fc.property(scenario, ([page, input]) => {
        const result = validateAppConfig(input, { pageUrl: page });
        if (!result.ok) return;
        const redirect = new URL(result.config.redirectUrl);
        expect(redirect.origin, result.config.redirectUrl).toBe(new URL(page).origin);
        expect(redirect.search + redirect.hash + redirect.username + redirect.password, result.config.redirectUrl).toBe('');
      }),
      { numRuns: 4000 },
    );
  });

  it('only ever resolves endpoints over https (or loopback http) without credentials', () => {
    fc.assert(
      fc.property(scenario, ([page, input]) => {
        const result = validateAppConfig(input, { pageUrl: page });
        if (!result.ok) return;
        for (const [label, value] of Object.entries(endpoints(result.config))) expectSafeEndpoint(value, label);
      }),
      { numRuns: 4000 },
    );
  });

  it("accepts only well-formed SIDs, chooses enhanced SSO exactly when oauth is present, and says the SPEC's words for a missing accountSid", () => {
    fc.assert(
      fc.property(scenario, ([page, input]) => {
        const result = validateAppConfig(input, { pageUrl: page });
        const sso = (input as { sso?: unknown }).sso;
        const accountSid = sso && typeof sso === 'object' && !Array.isArray(sso) ? (sso as { accountSid?: unknown }).accountSid : undefined;
        if (accountSid === undefined || accountSid === null || accountSid === '') {
          expect(result.ok).toBe(false);
          if (!result.ok) expect(result.problems).toContainEqual({ field: 'sso.accountSid', message: MISSING_ACCOUNT_SID });
        }
        if (!result.ok) return;
        expect(result.config.accountSid).toMatch(/^AC[0-9a-fA-F]{32}$/);
        expect(result.config.mode).toBe('oauth' in input ? 'enhanced' : 'legacy');
        if (result.config.mode === 'enhanced') expect(result.config.connection).toMatch(/^JQ[0-9a-fA-F]{32}$/);
      }),
      { numRuns: 3000 },
    );
  });

  it('neither changes the object it reads nor lets "__proto__" keys pollute prototypes', () => {
    fc.assert(
      fc.property(scenario, fc.jsonValue(), ([page, input], junk) => {
        const hostile = JSON.parse(JSON.stringify({ ...input, extra: junk })) as object;
        const withProto = JSON.parse(`{"sso":{"__proto__":{"accountSid":"AC${'1'.repeat(32)}"}},"__proto__":{"oauth":{}}}`) as object;
        const before = JSON.stringify(hostile);
        validateAppConfig(hostile, { pageUrl: page });
        const proto = validateAppConfig(withProto, { pageUrl: page });
        expect(JSON.stringify(hostile)).toBe(before);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect(({} as Record<string, unknown>).accountSid).toBeUndefined();
        // An accountSid only reachable through __proto__ is not an accountSid.
        expect(proto.ok).toBe(false);
      }),
      RUNS,
    );
  });
});
