import { NotFoundError } from '../errors.ts';
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

const KIND = 'user';
const lookupOf = (accountSid: string, uniqueId: string) => `${accountSid}:${uniqueId}`;

/** Users are provisioned on first login; their user and worker SIDs never change afterwards. */
export class UserService {
  constructor(private readonly storage: Storage) {}

  /** The same service reading and writing through a transaction. */
  within(tx: Storage): UserService {
    return new UserService(tx);
  }

  async provision(accountSid: string, profile: UserProfile, now = Date.now()): Promise<User> {
    const existing = await this.storage.findByLookup<User>(KIND, lookupOf(accountSid, profile.uniqueId));
    if (existing) {
      const updated: User = { ...existing.payload, ...profileFields(profile), lastLoginAt: now };
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
    return created ? user : this.provision(accountSid, profile, now);
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
