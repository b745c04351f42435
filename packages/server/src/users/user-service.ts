import { ConflictError, InvalidParameterError, NotFoundError } from '../errors.ts';
import { encodeIdentity, newSid } from '../ids.ts';
import type { Storage } from '../storage/port.ts';

export type Role = 'admin' | 'supervisor' | 'agent' | (string & {});

export interface User {
  sid: string;
  workerSid: string;
  accountSid: string;
  /** The IdP's unique id: SAML NameID or OIDC `sub`. */
  uniqueId: string;
  identity: string;
  fullName: string;
  email: string;
  roles: Role[];
  imageUrl: string | null;
  attributes: Record<string, string[]>;
  disabled: boolean;
  createdAt: number;
  lastLoginAt: number;
}

export interface UserProfile {
  uniqueId: string;
  fullName: string;
  email: string;
  roles: Role[];
  imageUrl: string | null;
  attributes: Record<string, string[]>;
}

/** The storage kind of user records (read directly by the refresh grant, with its session). */
export const USER_RECORD_KIND = 'user';
const KIND = USER_RECORD_KIND;
const lookupOf = (accountSid: string, uniqueId: string) => `${accountSid}:${uniqueId}`;

/** Users are provisioned on first login; their user and worker SIDs never change afterwards. */
export class UserService {
  constructor(private readonly storage: Storage) {}

  /** The same service reading and writing through a transaction. */
  within(tx: Storage): UserService {
    return new UserService(tx);
  }

  /**
   * `caseInsensitiveEmail`: the unique id arrives folded to lower case (users/unique-id.ts); a
   * user provisioned before that, under another letter case, is found and re-keyed once, so that
   * they keep their user and worker SIDs instead of getting a second user.
   */
  async provision(accountSid: string, profile: UserProfile, options: { now?: number; caseInsensitiveEmail?: boolean } = {}): Promise<User> {
    const now = options.now ?? Date.now();
    const existing =
      (await this.storage.findByLookup<User>(KIND, lookupOf(accountSid, profile.uniqueId)))?.payload ??
      (options.caseInsensitiveEmail ? await this.findOtherCase(accountSid, profile.uniqueId) : undefined);
    if (existing) {
      const updated: User = { ...existing, ...profileFields(profile), uniqueId: profile.uniqueId, lastLoginAt: now };
      await this.save(updated);
      return updated;
    }
    const user: User = {
      sid: newSid('user'),
      workerSid: newSid('worker'),
      accountSid,
      uniqueId: profile.uniqueId,
      identity: encodeIdentity(profile.uniqueId),
      ...profileFields(profile),
      disabled: false,
      createdAt: now,
      lastLoginAt: now,
    };
    const created = await this.storage.insert({ kind: KIND, id: user.sid, accountSid, lookup: lookupOf(accountSid, user.uniqueId), payload: user });
    // Two first logins racing: the loser adopts the winner's SIDs.
    return created ? user : this.provision(accountSid, profile, options);
  }

  /** The oldest user whose unique id equals `uniqueId` but for letter case. */
  private async findOtherCase(accountSid: string, uniqueId: string): Promise<User | undefined> {
    const folded = uniqueId.toLowerCase();
    return (await this.storage.list<User>(KIND, { accountSid }))
      .map((r) => r.payload)
      .filter((u) => u.uniqueId.toLowerCase() === folded)
      .sort((a, b) => a.createdAt - b.createdAt)[0];
  }

  /**
   * Points a user at another unique id (the IdP changed its NameID format or source attribute):
   * their next sign-in under `uniqueId` lands on them. Refused when another user holds it.
   */
  async relink(userSid: string, uniqueId: string): Promise<User> {
    const user = await this.get(userSid);
    const holder = await this.storage.findByLookup<User>(KIND, lookupOf(user.accountSid, uniqueId));
    if (holder && holder.payload.sid !== user.sid) {
      throw new ConflictError(
        `User ${holder.payload.sid} already has the unique id "${uniqueId.slice(0, 200)}"; merge that user into ${user.sid} instead (lanyard users merge ${holder.payload.sid} ${user.sid}).`,
      );
    }
    const updated = { ...user, uniqueId };
    await this.save(updated);
    return updated;
  }

  /**
   * Merges a duplicate into the user to keep: the duplicate's record is removed (the caller ends
   * its sessions first), and with `adoptUniqueId`, `into` takes its unique id (so the IdP's current id lands on `into`).
   */
  async merge(fromSid: string, intoSid: string, options: { adoptUniqueId: boolean }): Promise<User> {
    if (fromSid === intoSid) throw new InvalidParameterError('A user cannot be merged into itself.');
    const [from, into] = [await this.get(fromSid), await this.get(intoSid)];
    if (from.accountSid !== into.accountSid) throw new InvalidParameterError('Both users must belong to the same account.');
    await this.storage.destroy(KIND, from.sid);
    if (!options.adoptUniqueId) return into;
    const updated = { ...into, uniqueId: from.uniqueId };
    await this.save(updated);
    return updated;
  }

  async get(userSid: string): Promise<User> {
    const record = await this.storage.find<User>(KIND, userSid);
    if (!record) throw new NotFoundError(`User ${userSid} was not found.`);
    return record.payload;
  }

  async find(userSid: string): Promise<User | undefined> {
    return (await this.storage.find<User>(KIND, userSid))?.payload;
  }

  async list(accountSid: string, search?: string): Promise<User[]> {
    const users = (await this.storage.list<User>(KIND, { accountSid })).map((r) => r.payload);
    if (!search) return users;
    const needle = search.toLowerCase();
    return users.filter((u) => [u.uniqueId, u.fullName, u.email, u.sid].some((v) => v.toLowerCase().includes(needle)));
  }

  async setDisabled(userSid: string, disabled: boolean): Promise<User> {
    const user = { ...(await this.get(userSid)), disabled };
    await this.save(user);
    return user;
  }

  private async save(user: User): Promise<void> {
    await this.storage.upsert({
      kind: KIND,
      id: user.sid,
      accountSid: user.accountSid,
      lookup: lookupOf(user.accountSid, user.uniqueId),
      payload: user,
    });
  }
}

function profileFields(profile: UserProfile) {
  return { fullName: profile.fullName, email: profile.email, roles: profile.roles, imageUrl: profile.imageUrl, attributes: profile.attributes };
}
