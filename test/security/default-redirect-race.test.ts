import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { setupAccount } from '../support/flows.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';
import { AdminService } from '../../packages/server/src/admin/admin-service.ts';
import { BACKENDS } from '../support/backends.ts';

/**
 * "The Default redirect URL must lie under a Trusted URL" (admin/admin-service.ts) is checked on
 * a snapshot read before the write (setRedirectUrl and removeTrustedUrl each read the account,
 * then write it in a separate update): two concurrent admin requests leave a Default redirect URL
 * that no Trusted URL covers. Both checks now run inside AccountService.updateAccount's
 * transaction, on either storage backend.
 */
describe.each(BACKENDS)('Default redirect URL under a Trusted URL, under concurrency (%s)', (backend) => {
  let lanyard: TestLanyard;
  let idp: DevIdp;
  let key: string;

  const api = async (method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = { authorization: `Bearer ${key}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${lanyard.url}/admin/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return response.status;
  };

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0 });
    lanyard = await startTestLanyard(backend);
    key = (await lanyard.services.adminKeys.create('race')).secret;
  });
  afterAll(async () => {
    await lanyard?.stop();
    await idp?.close();
  });

  it('never ends with a Default redirect URL outside every Trusted URL', async () => {
    for (let round = 0; round < 10; round++) {
      const { account } = await setupAccount(lanyard, idp, {
        trusted: ['https://a.example.com/desk', 'https://b.example.com/desk'],
        defaultRedirect: 'https://a.example.com/desk/',
      });
      const sid = account.sid;
      // Move the Default redirect URL to b while b is being removed.
      const admin = new AdminService(lanyard.services, { surface: 'admin-api', name: 'race' } as never);
      const outcomes = await Promise.allSettled(
        round % 2
          ? [admin.setRedirectUrl(sid, 'https://b.example.com/desk/'), admin.removeTrustedUrl(sid, 'https://b.example.com/desk')]
          : [
              api('PUT', `/accounts/${sid}/redirect-url`, { url: 'https://b.example.com/desk/' }),
              api('DELETE', `/accounts/${sid}/trusted-urls?url=${encodeURIComponent('https://b.example.com/desk')}`),
            ],
      );
      // Exactly one of the two can win; the loser gets the clear 4xx, never a 500.
      const statuses = outcomes.map((o) =>
        o.status === 'fulfilled' ? (typeof o.value === 'number' ? o.value : 200) : (o.reason as { status?: number }).status,
      );
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      expect(statuses.every((s) => s === 200 || s === 400 || s === 409)).toBe(true);
      const after = await lanyard.services.accounts.getAccount(sid);
      const covered = after.trustedUrls.some(
        (t) => after.defaultRedirectUrl === null || after.defaultRedirectUrl.startsWith(`${t}/`) || after.defaultRedirectUrl === t,
      );
      expect({ round, trusted: after.trustedUrls, default: after.defaultRedirectUrl, covered }).toMatchObject({ covered: true });
    }
  });
});
