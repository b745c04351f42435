import { createHash, timingSafeEqual } from 'node:crypto';

/** A test user of the development IdP. `id` is the SAML NameID (an email address here). */
export interface DevUser {
  id: string;
  full_name: string;
  email: string;
  /** Sent as one AttributeValue per role; an empty list omits the `roles` attribute. */
  roles: string[];
  /** When set, the sign-in page asks for it; users without one sign in with a click. */
  password?: string;
}

export const DEFAULT_USERS: DevUser[] = [
  { id: 'ada@example.com', full_name: 'Ada Lovelace', email: 'ada@example.com', roles: ['admin', 'supervisor', 'agent'] },
  { id: 'grace@example.com', full_name: 'Grace Hopper', email: 'grace@example.com', roles: ['supervisor', 'agent'] },
  { id: 'alan@example.com', full_name: 'Alan Turing', email: 'alan@example.com', roles: ['agent'] },
];

/** Thrown for an unknown user or a wrong password: the sign-in page shows the message. */
export class DevSignInError extends Error {
  override readonly name = 'DevSignInError';
}

export function findUser(users: readonly DevUser[], id: string): DevUser {
  const user = users.find((u) => u.id === id);
  if (!user) throw new DevSignInError(`There is no test user "${id}".`);
  return user;
}

/** Users without a password need none; the comparison is constant-time all the same (habits carry over). */
export function checkPassword(user: DevUser, offered: string | null): void {
  if (user.password === undefined) return;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  if (!timingSafeEqual(digest(user.password), digest(offered ?? ''))) throw new DevSignInError(`Wrong password for ${user.full_name}.`);
}
