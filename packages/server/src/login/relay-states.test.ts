import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { RelayStateHandlers, type AcsEndpoint } from './relay-states.ts';

/** Runs `answer` inside a real Hono request, as the ACS does. */
async function answerThrough(handlers: RelayStateHandlers, at: AcsEndpoint, relayState: string | undefined): Promise<string | null> {
  const app = new Hono();
  app.post('/acs', async (c) => (await handlers.answer(c, at, 'PHNhbWw+', relayState)) ?? c.text('sign-in'));
  return (await app.request('/acs', { method: 'POST' })).text();
}

describe('RelayStateHandlers', () => {
  const at: AcsEndpoint = { serviceProvider: 'enhanced', sid: 'JQ00000000000000000000000000000000' };

  it('hands a RelayState with a registered prefix to its handler, with the ACS and the response', async () => {
    const handlers = new RelayStateHandlers();
    const seen: unknown[] = [];
    handlers.register('ct_', async (c, endpoint, samlResponse, relayState) => {
      seen.push([endpoint, samlResponse, relayState]);
      return c.text('report');
    });
    expect(await answerThrough(handlers, at, 'ct_abc')).toBe('report');
    expect(seen).toEqual([[at, 'PHNhbWw+', 'ct_abc']]);
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
