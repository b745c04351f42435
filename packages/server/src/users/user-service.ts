import { isDeepStrictEqual } from 'node:util';
import { ConcurrentChangeError, ConflictError, InvalidParameterError, LookupTakenError, NotFoundError } from '../errors.ts';
import { encodeIdentity, newSid } from '../ids.ts';
import type { NewRecord, Storage } from '../storage/port.ts';
import { isStorableKey } from '../storage/storable-values.ts';
import { MAX_UPDATE_ATTEMPTS, updateRecord } from '../storage/update-record.ts';
import { isEmailForm } from './email-form.ts';

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

export interface ProvisionOptions {
  now?: number;
  caseInsensitiveEmail?: boolean;
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
/**
 * One record per account (id: the account SID) once the account has a user whose unique id is
 * in e-mail form but not in lower case (`Ada@Example.com`): only then can a folded id
 * (`ada@example.com`) belong to a user its lookup does not find. Written before such a user;
 * never removed (it only makes a first sign-in look further). Accounts that had such users
 * before it existed got it from migration 4 (storage/migrations.ts).
 */
export const CASE_VARIANTS_RECORD_KIND = 'user-case-variants';
/** How recent another sign-in's write of the same profile must be for a sign-in to keep it rather than write its own (ms). */
const SAME_SIGN_IN_MS = 10_000;
/** A unique id that a folded one (`caseInsensitiveEmail`) can match only by letter case. */
const isCaseVariant = (uniqueId: string) => isEmailForm(uniqueId) && uniqueId !== uniqueId.toLowerCase();

/** Users are provisioned on first login; their user and worker SIDs never change afterwards. */
export class UserService {
  constructor(private readonly storage: Storage) {}

  /** The same service reading and writing through a transaction. */
  within(tx: Storage): UserService {
    return new UserService(tx);
  }

  /**
   * `caseInsensitiveEmail`: an e-mail-form unique id arrives folded to lower case
   * (users/unique-id.ts); a user provisioned before that, under another letter case, is found and
   * re-keyed once, so that they keep their user and worker SIDs instead of getting a second user.
   * Other ids (persistent NameIDs, `sub`) are case-sensitive: two ids that differ only in letter
   * case are two users.
   */
  provision(accountSid: string, profile: UserProfile, options: ProvisionOptions = {}): Promise<User> {
    return this.provisionRound(accountSid, profile, options, 1);
  }

  /** One round of `provision`; each next round follows another request's write that landed first (a disable, a relink, a merge, a first sign-in). */
  private async provisionRound(accountSid: string, profile: UserProfile, options: ProvisionOptions, round: number): Promise<User> {
    if (round > MAX_UPDATE_ATTEMPTS) throw new ConcurrentChangeError('The user signing in', MAX_UPDATE_ATTEMPTS);
    const again = () => this.provisionRound(accountSid, profile, options, round + 1);
    const now = options.now ?? Date.now();
    const existing =
      (await this.storage.findByLookup<User>(KIND, lookupOf(accountSid, profile.uniqueId)))?.payload ??
      (options.caseInsensitiveEmail && isEmailForm(profile.uniqueId) ? await this.findOtherCase(accountSid, profile.uniqueId) : undefined);
    if (existing) {
      const updated: User = { ...existing, ...profileFields(profile), uniqueId: profile.uniqueId, lastLoginAt: now };
      // A later round after another sign-in wrote this very profile a moment ago (the same agent
      // in several tabs at once): that write stands for this one, and N such sign-ins need not
      // take N rounds. Confirmed by writing it back unchanged (compare-and-set): on PostgreSQL that
      // waits for a merge removing the user meanwhile and then finds it gone, as a write would.
      if (round > 1 && sameJson(updated, { ...existing, lastLoginAt: now }) && now - existing.lastLoginAt < SAME_SIGN_IN_MS) {
        return (await this.save(existing, existing)) ? existing : again();
      }
      let saved: boolean;
      try {
        saved = await this.save(updated, existing);
      } catch (error) {
        // Re-keying a user found in another letter case, while a sign-in under the folded id
        // created that user first: this sign-in is theirs.
        if (error instanceof LookupTakenError && updated.uniqueId !== existing.uniqueId) return again();
        throw error;
      }
      // Changed since it was read (disabled, relinked: the sign-in sees that now), or merged away
      // (the id leads to the user it was merged into now, or to a new user).
      return saved ? updated : again();
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
    await this.noteCaseVariant(user, undefined);
    const created = await this.storage.insert({ kind: KIND, id: user.sid, accountSid, lookup: lookupOf(accountSid, user.uniqueId), payload: user });
    // Two first logins racing: the loser adopts the winner's SIDs.
    return created ? user : again();
  }

  /**
   * The oldest user whose unique id equals `uniqueId` but for letter case. A scan of the
   * account's users, made only where one can exist (CASE_VARIANTS_RECORD_KIND): a first sign-in
   * in an account of 10,000 users cost 104 ms of the event loop when every one scanned.
   */
  private async findOtherCase(accountSid: string, uniqueId: string): Promise<User | undefined> {
    if (!(await this.storage.find(CASE_VARIANTS_RECORD_KIND, accountSid))) return undefined;
    const folded = uniqueId.toLowerCase();
    return (await this.storage.list<User>(KIND, { accountSid }))
      .map((r) => r.payload)
      .filter((u) => u.uniqueId.toLowerCase() === folded)
      .sort((a, b) => a.createdAt - b.createdAt)[0];
  }

  /**
   * Points a user at another unique id (the IdP changed its NameID format or source attribute):
   * their next sign-in under `uniqueId` lands on them. Refused (ConflictError, 409) when another
   * user holds it, or, with `caseInsensitiveEmail` (the id arrives folded, as `provision` gets
   * it), holds it in another letter case: that user's sign-ins would land here.
   */
  async relink(userSid: string, uniqueId: string, options: { caseInsensitiveEmail?: boolean } = {}): Promise<User> {
    const first = await this.get(userSid);
    const holderOf = async () =>
      (await this.storage.findByLookup<User>(KIND, lookupOf(first.accountSid, uniqueId)))?.payload ??
      (options.caseInsensitiveEmail && isEmailForm(uniqueId) ? await this.findOtherCase(first.accountSid, uniqueId) : undefined);
    try {
      return await this.update(userSid, async (user) => {
        const holder = await holderOf();
        if (holder && holder.sid !== user.sid) throw heldBy(holder, user, uniqueId);
        return { ...user, uniqueId };
      });
    } catch (error) {
      // Another relink or a first sign-in took the id since it was checked.
      const taker = error instanceof LookupTakenError ? await holderOf() : undefined;
      throw taker ? heldBy(taker, first, uniqueId) : error;
    }
  }

  /**
   * Merges a duplicate into the user to keep: the duplicate's record is removed (the caller ends
   * its sessions once merged), and with `adoptUniqueId`, `into` takes its unique id (so the IdP's current id lands on `into`).
   */
  async merge(fromSid: string, intoSid: string, options: { adoptUniqueId: boolean }): Promise<User> {
    if (fromSid === intoSid) throw new InvalidParameterError('A user cannot be merged into itself.');
    await Promise.all([this.get(fromSid), this.get(intoSid)]);
    // One transaction on both users, read afresh under their row locks (taken in SID order, so
    // two merges of the same pair wait for each other instead of deadlocking): the duplicate is
    // removed and `into` takes the id it has now, or neither happens.
    return this.storage.transaction(async (tx) => {
      const locked = new Map<string, User>();
      for (const sid of [fromSid, intoSid].sort()) {
        const record = await tx.find<User>(KIND, sid, { forUpdate: true });
        if (!record) throw goneMeanwhile(sid);
        locked.set(sid, record.payload);
      }
      const [from, into] = [locked.get(fromSid)!, locked.get(intoSid)!];
      if (from.accountSid !== into.accountSid) throw new InvalidParameterError('Both users must belong to the same account.');
      await tx.destroy(KIND, from.sid);
      if (!options.adoptUniqueId) return into;
      const updated = { ...into, uniqueId: from.uniqueId };
      await this.within(tx).save(updated, into);
      return updated;
    });
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
    await this.get(userSid);
    return this.update(userSid, (user) => ({ ...user, disabled }));
  }

  /**
   * `change` applied to the user as stored now, again on a fresh read whenever another request
   * wrote the user first (updateRecord): a disable and a relink at the same moment both land.
   * @throws NotFoundError when the user is gone meanwhile (merged away); what `change` throws;
   *   LookupTakenError when another user took the new unique id meanwhile.
   */
  private async update(userSid: string, change: (user: User) => User | Promise<User>): Promise<User> {
    const written = await updateRecord<User>(this.storage, { kind: KIND, id: userSid, what: `User ${userSid}` }, async (current) => {
      const user = await change(current.payload);
      await this.noteCaseVariant(user, current.payload);
      return this.recordOf(user, current.payload);
    });
    if (!written) throw goneMeanwhile(userSid);
    return written.payload;
  }

  /**
   * Writes `user` over `previous` (the same user as read before the change) while the stored
   * user is still `previous`. False, writing nothing, when it is not (changed by another request
   * since it was read) or is gone (merged away): a write never undoes another request's change
   * nor brings back a removed user. LookupTakenError when another user took `user`'s unique id meanwhile.
   */
  private async save(user: User, previous: User): Promise<boolean> {
    await this.noteCaseVariant(user, previous);
    return this.storage.replace(this.recordOf(user, previous), { ifPayload: previous });
  }

  private recordOf(user: User, previous: User): NewRecord<User> {
    const lookup = lookupOf(user.accountSid, user.uniqueId);
    return {
      kind: KIND,
      id: user.sid,
      accountSid: user.accountSid,
      // A user an earlier release stored under an id no backend keeps as a key (a NUL, past
      // MAX_KEY_BYTES): sign-ins refuse that id now (unique-id.ts), so the user is written without
      // its lookup rather than not at all; disabling them must not fail. A relink gives a new one.
      lookup: user.uniqueId !== previous.uniqueId || isStorableKey(lookup) ? lookup : undefined,
      payload: user,
    };
  }

  /** Before `user` is written under a case-variant unique id it did not have: the account's CASE_VARIANTS_RECORD_KIND record. */
  private async noteCaseVariant(user: User, previous: User | undefined): Promise<void> {
    if (!isCaseVariant(user.uniqueId) || previous?.uniqueId === user.uniqueId) return;
    // false when the record is there already: nothing to do.
    await this.storage.insert({ kind: CASE_VARIANTS_RECORD_KIND, id: user.accountSid, accountSid: user.accountSid, payload: {} });
  }
}

/** A user read, then removed before the change to it was written (merged away meanwhile). */
const goneMeanwhile = (userSid: string) =>
  new NotFoundError(`User ${userSid} was not found: it was removed (merged into another user) while this request changed it.`);

/** The refusal of a relink of `user` to `uniqueId`, which `holder` has (in another letter case, where sign-ins fold e-mail ids). */
function heldBy(holder: User, user: User, uniqueId: string): ConflictError {
  const otherCase =
    holder.uniqueId === uniqueId ? '' : ` (sign-ins match e-mail ids whatever their letter case: "${uniqueId.slice(0, 200)}" is that id)`;
  return new ConflictError(
    `User ${holder.sid} already has the unique id "${holder.uniqueId.slice(0, 200)}"${otherCase}; to make them one user, merge that user into ${user.sid} (lanyard users merge ${holder.sid} ${user.sid}; POST /admin/v1/users/${holder.sid}/merge); if they are two people, ${user.sid} needs another unique id.`,
  );
}

/** Equal as stored (JSON): key order and prototypes aside (mapped attributes are null-prototype records). */
const sameJson = (a: unknown, b: unknown) => isDeepStrictEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)));

function profileFields(profile: UserProfile) {
  return { fullName: profile.fullName, email: profile.email, roles: profile.roles, imageUrl: profile.imageUrl, attributes: profile.attributes };
}
