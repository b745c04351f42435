import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { runInNewContext } from 'node:vm';
import { validateAppConfig, type AppConfigResult, type ConfigProblem, type ResolvedAppConfig } from '@lanyard/sdk/app-config';
import { InvalidParameterError } from '@lanyard/server/errors.ts';
import { emit, EXIT, fields, type Output } from '../output.ts';

interface LookupEntry {
  account_sid: string;
  connection_name: string;
  client_id: string;
  active: boolean;
}

/**
 * `lanyard appconfig check <file> --origin <url> [--server <url>]`: the SDK's own validator
 * (`@lanyard/sdk/app-config`) run on a desktop's appConfig.js, so a mistake is found before an
 * agent meets it. Needs no database.
 */
export function registerAppConfig(program: Command): void {
  const appconfig = program.command('appconfig').description("check a self-hosted desktop's appConfig.js");
  appconfig
    .command('check')
    .description(
      'validate appConfig.js (or .json) exactly as the SDK will in the browser, and warn where the real Flex UI would call Twilio hosts; exit 2 when it has problems',
    )
    .argument('<file>', 'appConfig.js (assigning window.appConfig) or a JSON file')
    .requiredOption('--origin <url>', 'the address the desktop is served from, e.g. https://desktop.example.com/')
    .option(
      '--server <url>',
      "also ask this Lanyard server's public lookup whether oauth.connection and oauth.clientId match the account (Trusted URLs are not public: check them with `lanyard status <AccountSid>`)",
    )
    .action(async (file: string, options: { origin: string; server?: string }, command: Command) => {
      const output = await check(file, options);
      emit(output, command.optsWithGlobals().json === true);
    });
}

async function check(file: string, options: { origin: string; server?: string }): Promise<Output> {
  const pageUrl = absoluteUrl('--origin', options.origin);
  const result = validateAppConfig(await readAppConfig(file), { pageUrl, flexUi: true });
  const problems = result.ok ? [] : [...result.problems];
  let server: { url: string; checked: boolean; note: string } | null = null;
  if (options.server !== undefined && result.ok) {
    server = await checkServer(absoluteUrl('--server', options.server), result.config, problems, result.warnings);
  }
  const ok = problems.length === 0;
  const data = { ok, file, origin: pageUrl, problems, warnings: result.warnings, config: result.ok ? result.config : null, server };
  return { data, text: describe(file, ok, problems, result, server), exitCode: ok ? EXIT.ok : EXIT.badInput };
}

/** Runs the file the way a page would, in an empty sandbox: only `window.appConfig` comes out. */
async function readAppConfig(file: string): Promise<unknown> {
  let source: string;
  try {
    source = await readFile(file, 'utf8');
  } catch (error) {
    throw new InvalidParameterError(`${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`);
  }
  if (extname(file).toLowerCase() === '.json') {
    try {
      return JSON.parse(source);
    } catch (error) {
      throw new InvalidParameterError(`${file} is not valid JSON: ${(error as Error).message}`);
    }
  }
  const sandbox: Record<string, unknown> = {};
  sandbox.window = sandbox;
  sandbox.self = sandbox;
  try {
    runInNewContext(source, sandbox, { filename: file, timeout: 1000 });
  } catch (error) {
    throw new InvalidParameterError(`${file} does not run: ${(error as Error).message}`);
  }
  return sandbox.appConfig;
}

/**
 * The public lookup tells which connection and client an account uses for enhanced SSO: the
 * file must name the same ones, or the authorize request will be refused.
 */
async function checkServer(server: string, config: ResolvedAppConfig, problems: ConfigProblem[], warnings: ConfigProblem[]) {
  const base = server.replace(/\/+$/, '');
  const endpoint = config.mode === 'enhanced' ? config.tokenUrl : config.loginUrl;
  if (!endpoint.startsWith(base + '/')) {
    warnings.push({
      field: 'serviceBaseUrl',
      message: `appConfig points the desktop at ${new URL(endpoint).origin}, not at ${base}.`,
    });
  }
  if (config.mode === 'legacy')
    return { url: base, checked: false, note: 'legacy SSO: the public lookup lists enhanced SSO settings only; nothing to compare' };
  const lookupUrl = `${base}/v1/Flex/Authentication/Config?AccountSid=${config.accountSid}`;
  let response: Response;
  try {
    response = await fetch(lookupUrl, { signal: AbortSignal.timeout(10_000) });
  } catch (error) {
    throw new Error(
      `cannot reach ${lookupUrl}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`,
    );
  }
  const body = (await response.json().catch(() => null)) as { config_list?: LookupEntry[]; message?: string } | null;
  if (!response.ok || !Array.isArray(body?.config_list))
    throw new Error(`${lookupUrl} answered HTTP ${response.status}${body?.message ? `: ${body.message}` : ''}`);
  const entries = body.config_list.filter((e) => e.active !== false);
  if (entries.length === 0) {
    problems.push({
      field: 'sso.accountSid',
      message:
        `${base} lists no enhanced SSO for ${config.accountSid}. Either that server does not hold the account (it uses another database: ` +
        `\`lanyard status ${config.accountSid}\` with the server's LANYARD_DATABASE_URL tells), or the account's identity provider is not set up ` +
        `(lanyard sso …), or the account uses legacy SSO (remove oauth from appConfig).`,
    });
  } else {
    const entry = entries.find((e) => e.connection_name === config.connection);
    if (!entry) {
      problems.push({
        field: 'oauth.connection',
        message: `oauth.connection ${config.connection} is not a connection of ${config.accountSid} on ${base}: use ${entries.map((e) => e.connection_name).join(' or ')}.`,
      });
    } else if (entry.client_id !== config.clientId) {
      problems.push({
        field: 'oauth.clientId',
        message: `oauth.clientId "${config.clientId}" does not match connection ${entry.connection_name} on ${base}: use "${entry.client_id}".`,
      });
    }
  }
  return { url: base, checked: true, note: `connection and clientId compared with ${lookupUrl}` };
}

function describe(file: string, ok: boolean, problems: ConfigProblem[], result: AppConfigResult, server: { note: string } | null): string {
  const lines: string[] = [];
  if (ok && result.ok) {
    const c = result.config;
    lines.push(
      `${file}: OK (${c.mode === 'enhanced' ? 'enhanced SSO, because appConfig has an oauth section' : 'legacy SSO, because appConfig has no oauth section'})`,
    );
    lines.push(
      fields([
        ['account', c.accountSid],
        ['redirect URL', c.redirectUrl],
        ['sign-in', c.loginPopup ? `pop-up${c.loginPopupFeatures ? ` (${c.loginPopupFeatures})` : ''}` : 'redirect'],
        ...((c.mode === 'enhanced'
          ? [
              ['connection', c.connection],
              ['client ID', c.clientId],
              ['authorize URL', c.authorizeUrl],
              ['token URL', c.tokenUrl],
            ]
          : [
              ['login URL', c.loginUrl],
              ['refresh URL', c.tokenRefreshUrl],
              ['IdP URL', c.idpUrl ?? null],
            ]) as Array<[string, string | null]>),
      ]),
    );
  } else {
    lines.push(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
    for (const p of problems) lines.push(`  ✗ ${p.field}: ${p.message}`);
  }
  for (const w of result.warnings) lines.push(`  ! ${w.field}: ${w.message}`);
  if (server) lines.push(`  server: ${server.note}`);
  if (ok) lines.push("  The redirect URL must also be one of the account's Trusted URLs: the server checks that at sign-in (see `lanyard status`).");
  return lines.join('\n');
}

function absoluteUrl(option: string, value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url.toString();
  } catch {
    // Reported below.
  }
  throw new InvalidParameterError(`${option} must be an absolute http(s) URL such as https://desktop.example.com/ (got "${value}").`);
}
