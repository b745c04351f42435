import type { Command } from 'commander';
import { action } from '../runtime.ts';

type TrustedUrls = { trusted_urls: string[]; default_redirect_url: string | null };

const describe = ({ trusted_urls: urls }: TrustedUrls) =>
  urls.length === 0 ? 'No Trusted URLs (lanyard trusted-urls add <AccountSid> https://…).' : urls.join('\n');

/** Trusted URLs: where sign-ins may return to (a redirect must fall on or below one). */
export function registerTrustedUrls(program: Command): void {
  const trusted = program.command('trusted-urls').description("the account's Trusted URLs (https://host[:port][/path]; http only on loopback)");
  trusted
    .command('add')
    .description('add a Trusted URL')
    .argument('<AccountSid>')
    .argument('<url>')
    .action(action(async ({ admin }, { args: [sid, url] }) => output(await admin.addTrustedUrl(sid!, url!))));
  trusted
    .command('list')
    .description('list the Trusted URLs')
    .argument('<AccountSid>')
    .action(action(async ({ admin }, { args: [sid] }) => output(await admin.listTrustedUrls(sid!))));
  trusted
    .command('remove')
    .description('remove a Trusted URL')
    .argument('<AccountSid>')
    .argument('<url>')
    .action(action(async ({ admin }, { args: [sid, url] }) => output(await admin.removeTrustedUrl(sid!, url!))));
}

function output(result: TrustedUrls) {
  return { data: result, text: describe(result) };
}
