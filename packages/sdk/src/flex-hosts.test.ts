import { describe, expect, it } from 'vitest';
import { createFlexHostFetch } from './flex-hosts-node.ts';
import { lanyardBase, routeFlexHost } from './flex-hosts.ts';

const LANYARD = 'https://sso.example.com/base/';
const AC = 'AC' + 'a'.repeat(32);

describe('routeFlexHost', () => {
  it('sends the fixed-host endpoints the real Flex UI calls to Lanyard, path and query kept', () => {
    const cases: Array<[string, string]> = [
      ['https://flex-api.twilio.com/v1/Configuration?UiVersion=2.17.1', 'https://sso.example.com/base/v1/Configuration?UiVersion=2.17.1'],
      [
        `https://flex-api.twilio.com/v1/Configuration/Public?AccountSid=${AC}`,
        `https://sso.example.com/base/v1/Configuration/Public?AccountSid=${AC}`,
      ],
      [`https://flex-api.ashburn.us1.twilio.com/v1/Accounts/${AC}/Tokens/Info`, `https://sso.example.com/base/v1/Accounts/${AC}/Tokens/Info`],
      ['https://services.twilio.com/v1/Flex/OAuth/Tokens', 'https://sso.example.com/base/v1/Flex/OAuth/Tokens'],
      [
        'https://services.dublin.ie1.twilio.com/v1/Flex/Authentication/Config?AccountSid=',
        'https://sso.example.com/base/v1/Flex/Authentication/Config?AccountSid=',
      ],
      [`https://iam.twilio.com/v1/Accounts/${AC}/authenticate`, `https://sso.example.com/base/v1/Accounts/${AC}/authenticate`],
      [`https://iam.twilio.com/v1/Accounts/${AC}/Tokens/refresh`, `https://sso.example.com/base/v1/Accounts/${AC}/Tokens/refresh`],
      ['https://preview.twilio.com/Flex/Tokens', 'https://sso.example.com/base/v1/Flex/OAuth/Tokens'],
    ];
    for (const [from, to] of cases) expect({ from, route: routeFlexHost(from, LANYARD) }).toEqual({ from, route: { action: 'lanyard', url: to } });
  });

  it('answers feature flags itself, blocks the rest of Twilio, leaves other hosts alone', () => {
    expect(routeFlexHost('https://flex.twilio.com/api/v1/Features/sso-token-session-storage', LANYARD)).toEqual({
      action: 'answer',
      status: 200,
      body: { enabled: false },
    });
    for (const blocked of [
      'https://flex.twilio.com/api/v1/Session',
      'https://status.twilio.com/api/v2/summary.json',
      'https://media.twiliocdn.com/sdk/js/client/sounds/releases/1.0.0/incoming.mp3',
      'https://assets.flex.twilio.com/assets/countries.json',
      'https://services.twilio.com/v2/Other',
      'https://flex-api.twilio.com.evil.example/v1/Configuration',
    ]) {
      const route = routeFlexHost(blocked, LANYARD);
      expect({ blocked, action: route.action }).toEqual({ blocked, action: blocked.includes('evil.example') ? 'pass' : 'block' });
    }
    expect(routeFlexHost('https://sso.example.com/v1/Configuration', LANYARD)).toEqual({ action: 'pass' });
    expect(routeFlexHost('https://nottwilio.com/v1/Configuration', LANYARD)).toEqual({ action: 'pass' });
  });

  it('refuses a Lanyard URL that would send tokens in clear or carries credentials', () => {
    expect(lanyardBase('http://127.0.0.1:4000/')).toBe('http://127.0.0.1:4000');
    expect(() => lanyardBase('http://sso.example.com')).toThrow(/https/);
    expect(() => lanyardBase('https://user:pw@sso.example.com')).toThrow(/plain base URL/);
  });
});

describe('createFlexHostFetch', () => {
  it('re-targets method, headers and body; never calls out for blocked or answered hosts', async () => {
    const sent: Request[] = [];
    const fetchHook = createFlexHostFetch(LANYARD, async (input, init) => {
      sent.push(new Request(input, init));
      return new Response('{}');
    });
    await fetchHook(`https://flex-api.twilio.com/v1/Accounts/${AC}/Tokens/Info`, {
      method: 'POST',
      headers: { authorization: 'Basic dG9rZW46eA==)', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Token=x',
    });
    expect(sent).toHaveLength(1);
    expect(sent[0]!.url).toBe(`https://sso.example.com/base/v1/Accounts/${AC}/Tokens/Info`);
    expect(sent[0]!.headers.get('authorization')).toBe('Basic dG9rZW46eA==)');
    expect(await sent[0]!.text()).toBe('Token=x');
    expect((await fetchHook('https://status.twilio.com/api/v2/summary.json')).status).toBe(204);
    expect(await (await fetchHook('https://flex.twilio.com/api/v1/Features/x')).json()).toEqual({ enabled: false });
    expect(sent).toHaveLength(1);
  });
});
