import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { LanyardError } from '../errors.ts';
import { basicCredentials } from './basic-credentials.ts';

const app = new Hono().post('/', (c) => {
  try {
    return c.json(basicCredentials(c, 'the account SID and an auth token'));
  } catch (error) {
    if (!(error instanceof LanyardError)) throw error;
    return c.json({ code: error.code, message: error.message }, error.status as 400 | 401);
  }
});
const send = async (authorization?: string) => {
  const response = await app.request('/', { method: 'POST', headers: authorization === undefined ? {} : { authorization } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};
const basic = (pair: string) => 'Basic ' + Buffer.from(pair, 'utf8').toString('base64');

describe('basicCredentials', () => {
  it('returns the user ID and the password, split at the first colon, decoded as UTF-8', async () => {
    expect(await send(basic('AC0123:tok:en with colons'))).toEqual({ status: 200, body: { username: 'AC0123', password: 'tok:en with colons' } });
    expect((await send(basic('agent:pässwörd'))).body).toEqual({ username: 'agent', password: 'pässwörd' });
    expect((await send(basic('AC0123:'))).body).toEqual({ username: 'AC0123', password: '' });
  });

  it('accepts the scheme in any case (RFC 7617 §2, RFC 9110 §11.1)', async () => {
    expect((await send('basic ' + Buffer.from('u:p').toString('base64'))).body).toEqual({ username: 'u', password: 'p' });
    expect((await send('BASIC ' + Buffer.from('u:p').toString('base64'))).status).toBe(200);
  });

  it('answers 401 naming what to send when no Basic credentials come', async () => {
    for (const header of [undefined, '', 'Bearer abc.def.ghi', 'Basicdxn6cA==']) {
      const { status, body } = await send(header);
      expect(status, String(header)).toBe(401);
      expect(body).toEqual({ code: 20003, message: 'Send the account SID and an auth token with HTTP Basic authentication.' });
    }
  });

  it('answers 400 for a Basic header that cannot be decoded into user:password', async () => {
    for (const header of ['Basic', 'Basic ', 'Basic not*base64', basic('no-colon-here')]) {
      const { status, body } = await send(header);
      expect(status, header).toBe(400);
      expect(body.code).toBe(20001);
      expect(body.message).toMatch(/^Malformed Basic credentials/);
    }
  });
});
