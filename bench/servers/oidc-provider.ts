/**
 * Baseline: panva's `oidc-provider` with its default in-memory adapter and default settings,
 * listening on its own server. One public client (like an agent desktop); refresh tokens are
 * pre-created through the provider's own models (untimed) and rotate on use, as the provider
 * does for public clients.
 */
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import { exitWithParent } from '../lib/parent-link.ts';

// Registered before any start-up work: a bench that dies meanwhile leaves nothing running.
exitWithParent();

const issuer = 'http://127.0.0.1';
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'bench-desktop',
      token_endpoint_auth_method: 'none',
      redirect_uris: ['http://127.0.0.1:5173/desktop/'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    },
  ],
});
// Silence the default dev-interaction warnings and errors on stderr during load.
provider.on('server_error', () => undefined);

const server = provider.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const { port } = server.address() as AddressInfo;
process.send!({ type: 'ready', url: `http://127.0.0.1:${port}` });

process.on('message', (message: { id: number; cmd: string; count?: number }) => {
  void (async () => {
    if (message.cmd === 'sessions') {
      const client = (await provider.Client.find('bench-desktop'))!;
      const tokens: string[] = [];
      for (let i = 0; i < (message.count ?? 0); i++) {
        const accountId = `agent${i % 100}@bench.example`;
        const grant = new provider.Grant({ accountId, clientId: 'bench-desktop' });
        grant.addOIDCScope('openid offline_access');
        const grantId = await grant.save();
        const refreshToken = new provider.RefreshToken({
          accountId,
          client,
          grantId,
          scope: 'openid offline_access',
          gty: 'authorization_code',
          authTime: Math.floor(Date.now() / 1000),
        });
        tokens.push(await refreshToken.save());
      }
      process.send!({ id: message.id, result: tokens });
    } else if (message.cmd === 'memory') {
      (globalThis as { gc?: () => void }).gc?.();
      process.send!({ id: message.id, result: process.memoryUsage() });
    } else if (message.cmd === 'stop') {
      server.close();
      process.send!({ id: message.id, result: null });
      setImmediate(() => process.exit(0));
    }
  })().catch((error: Error) => process.send!({ id: message.id, error: error.stack ?? error.message }));
});
