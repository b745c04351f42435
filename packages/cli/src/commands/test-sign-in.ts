import type { Command } from 'commander';
import { Option } from 'commander';
import type { TestSignInReport, TestSignInStatus } from '@lanyard/server/console/responses.ts';
import { EXIT, fields, printable } from '../output.ts';
import { action, operator } from '../runtime.ts';

/** As the console: every 2 s, until the IdP has answered or the sign-in lifetime has passed. */
const POLL_MS = 2000;

/**
 * `lanyard test-sign-in`: the console's test sign-in from a terminal. It stores the pending test
 * in the database the running server reads (same LANYARD_DATABASE_URL and LANYARD_SECRET_KEY),
 * prints the IdP URL to open in a browser, and waits for the server to turn the IdP's answer into
 * a report. Exit 0 when the sign-in succeeded, 1 when it failed or the IdP never answered.
 */
export function registerTestSignIn(program: Command): void {
  program
    .command('test-sign-in')
    .description("sign in at the account's IdP as a real user and print the report (needs the server running on the same database)")
    .argument('<AccountSid>', 'the account (AC…)')
    .addOption(
      new Option('--service-provider <sp>', 'SAML: the service provider to test (default: by the account mode)').choices(['enhanced', 'legacy']),
    )
    .action(
      action(async ({ services }, { args: [accountSid], options }) => {
        const { ConsoleTestSignIn } = await import('@lanyard/server/console/test-sign-in.ts');
        const tests = new ConsoleTestSignIn(services);
        // Where the console records the admin key (only it may read the report): the CLI and its operator, as the audit log names CLI changes.
        const starter = `cli (${operator()})`;
        const started = await tests.begin(accountSid!, starter, options.serviceProvider as 'enhanced' | 'legacy' | undefined);
        // On stderr: stdout stays the report (or its JSON).
        process.stderr.write(
          `Open this URL in a browser and sign in at the identity provider (${started.service_provider} service provider):\n${started.url}\n${started.waiting}\n`,
        );
        let status: TestSignInStatus = { status: 'pending' };
        while (status.status === 'pending') {
          await new Promise((resolve) => setTimeout(resolve, POLL_MS));
          status = await tests.status(started.id, starter);
        }
        if (status.status === 'expired') return { data: status, text: status.message, exitCode: EXIT.failure };
        return { data: status.report, text: describeReport(status.report), exitCode: status.report.succeeded ? EXIT.ok : EXIT.failure };
      }),
    );
}

/** The report for a terminal: what the IdP sent (names, values, the messages quoting them) with its control characters escaped. */
function describeReport(report: TestSignInReport): string {
  const p = printable;
  const attributes = Object.entries(report.attributes);
  return [
    report.succeeded
      ? `Test sign-in succeeded: signed in as ${p(report.name_id)}.`
      : `Test sign-in failed: ${report.error ? `${p(report.error.message)} (code ${report.error.code})` : 'see below'}`,
    ...report.missing.map((m) => `Missing ${p(m.attribute)}: ${p(m.explanation)}`),
    ...report.warnings.map((w) => `Note: ${p(w)}`),
    'Profile:',
    fields([
      ['unique id', p(report.name_id)],
      ['full_name', p(report.profile.full_name)],
      ['email', p(report.profile.email)],
      ['roles', p(report.profile.roles.join(', ')) || null],
      ['dropped roles', p(report.dropped_roles.join(', ')) || null],
      ['image_url', p(report.profile.image_url)],
    ]),
    `Attributes (claims) received from ${p(report.issuer) ?? 'an unknown issuer'}:`,
    attributes.length ? fields(attributes.map(([name, values]) => [p(name), p(values.join(', '))])) : '  (none)',
  ].join('\n');
}
