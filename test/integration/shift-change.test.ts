import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIdp, type DevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { BACKENDS } from '../support/backends.ts';
import { exchangeCode, flexLogin, setupAccount } from '../support/flows.ts';
import { startTestLanyard, type TestLanyard } from '../support/lanyard.ts';

/**
 * A shift change from behind one NAT, at a test's scale: every agent's browser reaches Lanyard
 * from the same address (127.0.0.1), with the default configuration. 200 agents make 400
 * sign-in requests (authorize + ACS) and 200 code exchanges: beyond the old per-address default
 * of 300 sign-in requests a minute, well inside the new one. The full 2,000-agent scenario is a
 * bench line (docs/benchmarks.md), not a timed test.
 */
const AGENTS = 200;
const BROWSERS = 10;
const USERS = Array.from({ length: AGENTS }, (_, i) => ({
  id: `agent${i}@example.com`,
  full_name: `Agent ${i}`,
  email: `agent${i}@example.com`,
  roles: ['agent'],
}));

describe.each(BACKENDS)('shift change from one address on %s (default rate limits)', (backend) => {
  let idp: DevIdp;
  let lanyard: TestLanyard;
  let setup: Awaited<ReturnType<typeof setupAccount>>;
  beforeAll(async () => {
    idp = await startDevIdp({ port: 0, users: USERS });
    lanyard = await startTestLanyard(backend);
    setup = await setupAccount(lanyard, idp);
  });
  afterAll(async () => {
    await lanyard?.stop();
    await idp?.close();
  });

  it(`signs in ${AGENTS} agents without one refusal`, { timeout: 180_000 }, async () => {
    expect(lanyard.services.config.rateLimitLoginPerMinute).toBeGreaterThan(2 * AGENTS);
    const failures: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: BROWSERS }, async () => {
        while (next < AGENTS) {
          const user = USERS[next++]!;
          try {
            const login = await flexLogin(lanyard, idp, setup.connection.sid, user.id);
            const tokens = await exchangeCode(lanyard, setup.connection.sid, login);
            if (tokens.status !== 200) failures.push(`${user.id}: token ${tokens.status} ${JSON.stringify(tokens.body)}`);
          } catch (error) {
            failures.push(`${user.id}: ${(error as Error).message.slice(0, 200)}`);
          }
        }
      }),
    );
    expect(failures).toEqual([]);
  });
});
