import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { IdpMessage } from '../connections/connection-protocol.ts';
import { RelayStateHandlers, type IdpEndpoint } from './relay-states.ts';

/** Runs `answer` inside a real Hono request, as the ACS (or the OIDC callback) does. */
async function answerThrough(
  handlers: RelayStateHandlers,
  at: IdpEndpoint,
  relayState: string | undefined,
  message: IdpMessage = { samlResponse: 'PHNhbWw+' },
): Promise<string | null> {
  const app = new Hono();
  app.post('/acs', async (c) => (await handlers.answer(c, at, message, relayState)) ?? c.text('sign-in'));
  return (await app.request('/acs', { method: 'POST' })).text();
}

describe('RelayStateHandlers', () => {
  const at: IdpEndpoint = { serviceProvider: 'enhanced', sid: 'JQ00000000000000000000000000000000' };

  it('hands a RelayState with a registered prefix to its handler, with the ACS and the response', async () => {
    const handlers = new RelayStateHandlers();
    const seen: unknown[] = [];
    handlers.register('ct_', async (c, endpoint, samlResponse, relayState) => {
      seen.push([endpoint, samlResponse, relayState]);
      return c.text('report');
    });
    expect(await answerThrough(handlers, at, 'ct_abc')).toBe('report');
    expect(seen).toEqual([[at, { samlResponse: 'PHNhbWw+' }, 'ct_abc']]);
  });

  it("hands an OpenID Connect callback's state to the same handler, with the callback URL and no SID", async () => {
    const handlers = new RelayStateHandlers();
    const seen: unknown[] = [];
    handlers.register('ct_', async (c, endpoint, message, state) => {
      seen.push([endpoint, message, state]);
      return c.text('report');
    });
    const callback = new URL('https://sso.example.test/login/oidc/callback?code=c&state=ct_abc');
    const oidcCallback: IdpEndpoint = { serviceProvider: 'enhanced', sid: null };
    expect(await answerThrough(handlers, oidcCallback, 'ct_abc', { callback })).toBe('report');
    expect(await answerThrough(handlers, oidcCallback, 'lr_abc', { callback })).toBe('sign-in');
    expect(seen).toEqual([[oidcCallback, { callback }, 'ct_abc']]);
  });

  it('leaves every other RelayState, and an absent one (IdP-initiated), to the sign-in', async () => {
    const handlers = new RelayStateHandlers();
    handlers.register('ct_', async (c) => c.text('report'));
    expect(await answerThrough(handlers, at, 'lr_abc')).toBe('sign-in');
    expect(await answerThrough(handlers, at, 'xct_abc')).toBe('sign-in');
    expect(await answerThrough(handlers, at, undefined)).toBe('sign-in');
  });

  it('refuses an empty or a second registration of a prefix (a wiring mistake)', () => {
    const handlers = new RelayStateHandlers();
    handlers.register('ct_', async (c) => c.text('report'));
    expect(() => handlers.register('ct_', async (c) => c.text('other'))).toThrow(/already registered/);
    expect(() => handlers.register('', async (c) => c.text('other'))).toThrow(/empty/);
  });
});
