import { openStorage } from '../../packages/server/src/storage/open.ts';
import { UserService, type UserProfile } from '../../packages/server/src/users/user-service.ts';
import { freshDatabase } from '../lib/database.ts';
import type { Line } from '../lib/report.ts';
import { alternate, ratioOf, sideSummary } from '../lib/rounds.ts';
import type { Settings } from '../lib/setup.ts';

const ACCOUNT_SID = `AC${'b'.repeat(32)}`;
const profile = (uniqueId: string): UserProfile => ({
  uniqueId,
  fullName: `Agent ${uniqueId}`,
  email: uniqueId,
  roles: ['agent'],
  imageUrl: null,
  attributes: { department: ['sales'] },
});

/**
 * A user's first sign-in in a large account against a returning user's, as the login path
 * provisions them (users/user-service.ts `provision`, e-mail ids folded to lower case, the
 * default): onboarding day, when every agent of a contact center signs in for the first time.
 * Both on SQLite, in the bench process (storage and user service only: no HTTP, no SAML).
 */
export async function provisioningLines(settings: Settings): Promise<Line[]> {
  const users = settings.quick ? 2_000 : 10_000;
  const db = await freshDatabase('sqlite');
  const storage = await openStorage(db.url);
  try {
    const service = new UserService(storage);
    const options = { caseInsensitiveEmail: true };
    for (let i = 0; i < users; i++) await service.provision(ACCOUNT_SID, profile(`agent${i}@example.com`), options);
    let next = 0;
    const perRound = settings.quick ? 50 : 200;
    const timed = async (uniqueId: (i: number) => string) => {
      const started = performance.now();
      for (let i = 0; i < perRound; i++) await service.provision(ACCOUNT_SID, profile(uniqueId(next++)), options);
      return { value: (perRound * 1000) / (performance.now() - started) };
    };
    const [vsReturning] = await alternate(() => timed((i) => `new${i}@example.com`), [() => timed((i) => `agent${i % users}@example.com`)], {
      rounds: settings.rounds,
    });
    const unit = (v: number) => `${Math.round(v).toLocaleString('en')} users/s`;
    return [
      {
        section: '',
        name: `First sign-in's user provisioning in an account of ${users.toLocaleString('en')} users vs a returning user's (SQLite)`,
        lanyard: `new users: ${sideSummary(vsReturning!.a, unit)}`,
        baseline: `returning users: ${sideSummary(vsReturning!.b, unit)}`,
        ...ratioOf(vsReturning!),
        better: 'higher',
        note: `${perRound} provisionings a round a side; storage and user service in the bench process (no HTTP, no SAML); before session 15 every first sign-in read all of the account's users: 10 new users/s against 15,800 returning, a ratio of 0.0006 at 10,000`,
      },
    ];
  } finally {
    await storage.close();
    await db.drop();
  }
}
