import type { AccountService } from '../accounts/account-service.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { LanyardConfig } from '../config.ts';
import type { TokenService } from '../tokens/token-service.ts';
import type { UserService } from '../users/user-service.ts';
import { requireSid } from '../ids.ts';
import { InvalidParameterError } from '../errors.ts';
import { listIdpEntityIds } from '../accounts/idp-metadata.ts';
import { fetchIdpMetadata } from '../accounts/metadata-fetch.ts';
import { DEFAULT_UNIQUE_ID_POLICY, foldsCase, type UniqueIdPolicy } from '../users/unique-id.ts';
import { recordAdminChange, type Actor } from './admin-audit.ts';
import { connectionResource, userResource } from './resources.ts';

/**
 * "Who is who" for the admin API and the CLI: the connection's unique-id policy, and repairs of
 * users the IdP identified inconsistently (relink one user to a new id, merge a duplicate).
 */
export interface IdentityAdminDependencies {
  accounts: AccountService;
  users: UserService;
  tokens: TokenService;
  audit: AuditLog;
  config: Pick<LanyardConfig, 'publicUrl'>;
}

export class IdentityAdmin {
  constructor(
    private readonly services: IdentityAdminDependencies,
    private readonly actor: Actor,
  ) {}

  async setUniqueIdPolicy(connectionSid: string, input: { attribute?: string | null; case_insensitive_email?: boolean }) {
    const { accounts } = this.services;
    const next = await accounts.updateConnection(connectionSid, (connection) => {
      const current = connection.uniqueId ?? DEFAULT_UNIQUE_ID_POLICY;
      const uniqueId: UniqueIdPolicy = {
        attribute: input.attribute === undefined ? current.attribute : input.attribute,
        caseInsensitiveEmail: input.case_insensitive_email ?? current.caseInsensitiveEmail,
      };
      return { ...connection, uniqueId };
    });
    const policy = next.uniqueId ?? DEFAULT_UNIQUE_ID_POLICY;
    await this.record(
      next.accountSid,
      `set the unique id of connection ${connectionSid} to ${policy.attribute ? `attribute "${policy.attribute}"` : 'the NameID / sub'}${policy.caseInsensitiveEmail ? '' : ' (e-mail ids case-sensitive)'}`,
      { connectionSid },
    );
    return connectionResource(next, this.services.config.publicUrl);
  }

  /** The IdP entity IDs in (federation) metadata, for the console's picker and scripts. */
  async metadataEntities(accountSid: string, input: { metadata_xml?: string; metadata_url?: string }) {
    await this.services.accounts.getAccount(accountSid);
    if ((input.metadata_xml === undefined) === (input.metadata_url === undefined))
      throw new InvalidParameterError('Send exactly one of metadata_xml or metadata_url.');
    const xml = input.metadata_xml ?? (await fetchIdpMetadata(input.metadata_url!));
    return { entity_ids: await listIdpEntityIds(xml) };
  }

  /**
   * The id as sign-ins will send it: in lower case when it is in e-mail form and every
   * connection of the account folds such ids (the default, and so for an account with none yet),
   * so that the user is found, and a user holding it in any letter case sign-ins would match is
   * refused (409) instead of being shadowed.
   */
  async relinkUser(userSid: string, uniqueId: string) {
    requireSid('user', userSid, 'UserSid');
    const before = await this.services.users.get(userSid);
    const connections = await this.services.accounts.connectionsOf(before.accountSid);
    const policies = connections.length > 0 ? connections.map((c) => c.uniqueId ?? DEFAULT_UNIQUE_ID_POLICY) : [DEFAULT_UNIQUE_ID_POLICY];
    const folded = policies.every((policy) => foldsCase(uniqueId, policy));
    const id = folded ? uniqueId.toLowerCase() : uniqueId;
    const user = await this.services.users.relink(userSid, id, { caseInsensitiveEmail: folded });
    await this.record(user.accountSid, `relinked user ${userSid} from "${before.uniqueId}" to "${id}"`, { userSid });
    return userResource(user);
  }

  /** The duplicate's sessions end, its record goes; `into` keeps its SIDs and (optionally) takes the duplicate's unique id. */
  async mergeUsers(fromSid: string, intoSid: string, adoptUniqueId: boolean) {
    requireSid('user', fromSid, 'UserSid');
    requireSid('user', intoSid, 'into');
    const from = await this.services.users.get(fromSid);
    await this.services.users.get(intoSid);
    const user = await this.services.users.merge(fromSid, intoSid, { adoptUniqueId });
    // Once merged: a refused merge (another account, a user gone meanwhile) ends nobody's sessions.
    // The duplicate's tokens stopped working with its record, so a failure to mark its sessions
    // ended does not undo or hide the merge: it is told in the audit record and the response.
    let revoked = 0;
    let notEnded = '';
    try {
      revoked = await this.services.tokens.revokeAllForUser(fromSid, from.accountSid);
    } catch (error) {
      notEnded = `; its sessions could not be marked ended (${(error as Error).message}), and stopped working with the user`;
    }
    await this.record(user.accountSid, `merged user ${fromSid} ("${from.uniqueId}", ${revoked} session(s) ended${notEnded}) into ${intoSid}`, {
      userSid: intoSid,
    });
    return { merged_user_sid: fromSid, revoked_sessions: revoked, user: userResource(user) };
  }

  private record(accountSid: string, change: string, about: { connectionSid?: string; userSid?: string }): Promise<void> {
    return recordAdminChange(this.services.audit, this.actor, accountSid, change, about);
  }
}
