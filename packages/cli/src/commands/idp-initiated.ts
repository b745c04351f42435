import { Argument, type Command } from 'commander';
import { action } from '../runtime.ts';

/**
 * IdP-initiated SAML login (app tiles in Okta or My Apps): off by default, because an unsolicited
 * assertion can sign a browser in without its user asking (login CSRF).
 */
export function registerIdpInitiated(program: Command): void {
  program
    .command('idp-initiated')
    .description('turn IdP-initiated SAML login (app tiles) on or off for an account')
    .argument('<AccountSid>')
    .addArgument(new Argument('<state>').choices(['on', 'off']))
    .action(
      action(async ({ admin }, { args: [sid, state] }) => {
        const account = await admin.setIdpInitiatedLogin(sid!, state === 'on');
        const landing = account.default_redirect_url ?? '(no Default redirect URL yet: lanyard redirect-url set)';
        return {
          data: account,
          text: `IdP-initiated login of ${account.sid}: ${account.idp_initiated_login ? `on; sign-ins land on ${landing}` : 'off'}`,
        };
      }),
    );
}
