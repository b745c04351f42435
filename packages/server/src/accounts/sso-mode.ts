import { ConflictError } from '../errors.ts';
import type { Account, SsoMode } from './model.ts';

/** Days an account may switch back to its previous SSO mode. */
export const MODE_SWITCH_GRACE_DAYS = 30;

/** Until when the account can switch back to its previous mode without `force` (ms since epoch), or null. */
export function revertDeadline(account: Account): number | null {
  return account.previousMode && account.modeChangedAt !== null ? account.modeChangedAt + MODE_SWITCH_GRACE_DAYS * 86_400_000 : null;
}

/**
 * Switches the account (in place) to `mode`. Users, user SIDs and worker SIDs belong to the
 * account, not the mode, so nothing is lost either way. Going back to the previous mode is a
 * plain switch within the grace period; after it, the IdP side may have been torn down, so it
 * takes `force`.
 *
 * @throws ConflictError going back after the grace period without `force`.
 */
export function switchSsoMode(account: Account, mode: SsoMode, now: number, force: boolean | undefined): void {
  if (account.ssoMode === mode) return;
  const deadline = revertDeadline(account);
  if (mode === account.previousMode && deadline !== null && now > deadline && !force) {
    throw new ConflictError(
      `The ${MODE_SWITCH_GRACE_DAYS}-day grace period to switch back to ${mode} SSO ended on ${new Date(deadline).toISOString().slice(0, 10)}. ` +
        'Check that the IdP still trusts the legacy service provider, then switch with force.',
    );
  }
  account.previousMode = account.ssoMode;
  account.modeChangedAt = now;
  account.ssoMode = mode;
}
