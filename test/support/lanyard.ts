import { randomBytes } from 'node:crypto';
import { jsonLogger } from '../../packages/server/src/http/logger.ts';
import { loadConfig, startLanyard, type Lanyard, type LanyardConfig } from '../../packages/server/src/index.ts';
import { createTestDatabase, type Backend, type TestDatabase } from './backends.ts';

export interface TestLanyard extends Lanyard {
  db: TestDatabase;
  backend: Backend;
  stop(): Promise<void>;
}

/** A real Lanyard server on a random loopback port with a fresh database of the given backend. */
export async function startTestLanyard(backend: Backend, overrides: Partial<LanyardConfig> = {}): Promise<TestLanyard> {
  const db = await createTestDatabase(backend);
  const config = loadConfig({ LANYARD_PORT: '0', LANYARD_DATABASE_URL: db.url }, { secretKey: randomBytes(32), ...overrides });
  const lanyard = await startLanyard(config, { logger: jsonLogger(process.env.LANYARD_TEST_LOG === '1' ? 'info' : 'silent') });
  return {
    ...lanyard,
    db,
    backend,
    async stop() {
      await lanyard.close();
      await db.drop();
    },
  };
}
