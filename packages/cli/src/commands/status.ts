import type { Command } from 'commander';
import type { accountResource } from '@lanyard/server/admin/resources.ts';
import { fields } from '../output.ts';
import { publicUrlWarning } from '../public-url.ts';
import { action } from '../runtime.ts';
import { describeConnection } from './connection-description.ts';

type Account = ReturnType<typeof accountResource>;

/** `lanyard status`: the account's mode and, for each SSO mode, what is still missing. */
export function registerStatus(program: Command): void {
  program
    .command('status')
    .description("an account's SSO mode, settings and what is missing for enhanced and legacy SSO")
    .argument('<AccountSid>')
    .action(
      action(async ({ admin }, { args: [sid] }) => {
        const account = await admin.getAccount(sid!);
        return { data: account, text: describeAccount(account) };
      }),
    );
}

export function describeAccount(a: Account): string {
  const readiness = (label: string, r: { ready: boolean; missing: string[] }) =>
    r.ready ? `${label}: ready` : [`${label}: not ready`, ...r.missing.map((m) => `  - ${m}`)].join('\n');
  return [
    `Account ${a.sid} "${a.friendly_name}"`,
    fields([
      ['SSO mode', a.sso_mode],
      ['instance SID', a.instance_sid],
      ['Trusted URLs', a.trusted_urls.join(', ') || null],
      ['Domain redirect URL', a.default_redirect_url],
      ['IdP-initiated login', a.idp_initiated_login ? 'on' : 'off'],
      ['legacy SP entity ID', a.legacy_service_provider.entity_id],
      ['legacy ACS URL', a.legacy_service_provider.acs_url],
    ]),
    ...(a.connections.length === 0 ? [publicUrlWarning(a.legacy_service_provider.acs_url)].filter((w) => w !== null) : []),
    ...a.connections.flatMap((c) => ['', describeConnection(c)]),
    '',
    readiness('Enhanced SSO', a.setup.enhanced),
    readiness('Legacy SSO', a.setup.legacy),
    ...(a.setup.warnings.length ? ['Warnings:', ...a.setup.warnings.map((w) => `  - ${w}`)] : []),
  ].join('\n');
}
