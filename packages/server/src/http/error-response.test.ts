import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { SamlVerificationUnavailableError, StorageUnavailableError } from '../errors.ts';
import { respondWithError } from './error-response.ts';
import { jsonLogger } from './logger.ts';

/** One route that fails with `error`, answered as the server answers every failure. */
function failingWith(error: Error) {
  const warnings: string[] = [];
  const app = new Hono<{ Variables: { browserFacing: boolean } }>();
  app.use('*', async (c, next) => {
    c.set('browserFacing', true);
    await next();
  });
  app.get('/acs', () => {
    throw error;
  });
  app.onError((thrown, c) =>
    respondWithError(
      c,
      thrown,
      jsonLogger('warn', (line) => warnings.push(line)),
    ),
  );
  return { app, warnings };
}

describe('respondWithError', () => {
  it('answers a SAML response that could not be verified now with a 503 that sends the agent to a new sign-in, without Retry-After', async () => {
    const { app, warnings } = failingWith(new SamlVerificationUnavailableError('this node is shutting down'));
    const page = await app.request('/acs', { headers: { accept: 'text/html' } });
    expect(page.status).toBe(503);
    // The sign-in it answered is spent: retrying the same request cannot work.
    expect(page.headers.get('retry-after')).toBeNull();
    const html = await page.text();
    expect(html).toContain('this node is shutting down');
    expect(html).toContain('Start the sign-in again from the agent desktop');
    expect(html).toContain('<code>20530</code>');
    const json = await app.request('/acs');
    expect(await json.json()).toMatchObject({ code: 20530, status: 503 });
    expect(warnings.join('\n')).toContain('"code":20530');
  });

  it('asks for a retry where one can work (the database came back)', async () => {
    const { app } = failingWith(new StorageUnavailableError('connection refused'));
    const answer = await app.request('/acs');
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toBe('5');
  });
});
