import type { Context } from 'hono';
import { z } from 'zod';
import type { ClientRegistry } from '../../clients/client-registry.ts';
import type { OAuthClient } from '../../clients/model.ts';
import type { LanyardConfig } from '../../config.ts';
import { InvalidParameterError, LanyardError } from '../../errors.ts';
import type { Storage } from '../../storage/port.ts';
import { authenticateClient } from '../client-authentication.ts';

/** An RFC 6749 §5.2 error other than `invalid_request` (status 400, Lanyard code 20001). */
export const oauthError = (oauth: string, message: string) => new LanyardError({ code: 20001, status: 400, message, oauthError: oauth });

/**
 * A parameter that must be present and non-empty; `message` (ours, never client text) is the
 * `error_description` of the `invalid_request` when it is not (RFC 6749 §5.2).
 */
export const requiredParameter = (message: string) => z.string({ error: message }).min(1, message);

/** A parameter that may be absent; its value is the client's and is never quoted back. */
export const optionalParameter = z.string().optional();

/**
 * Parses an endpoint's form or query with its schema. Extra parameters are ignored (RFC 6749
 * §3.1: "The authorization server MUST ignore unrecognized request parameters").
 * The first issue becomes the error: `invalid_request` (InvalidParameterError, 400) with the
 * schema's own message, unless `errors` maps the parameter (the issue's first path element) to
 * another error, e.g. `grant_type` to `unsupported_grant_type`.
 */
export function parseOAuthParameters<S extends z.ZodType>(
  schema: S,
  input: unknown,
  errors: ReadonlyMap<string, (message: string) => LanyardError> = new Map(),
): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const toError = errors.get(String(issue.path[0]));
  throw toError ? toError(issue.message) : new InvalidParameterError(issue.message);
}

/** What client authentication reads (OpenID Connect Core §9, RFC 6749 §2.3, RFC 7523 §3). */
export interface ClientAuthenticationDependencies {
  clients: ClientRegistry;
  storage: Storage;
  config: Pick<LanyardConfig, 'publicUrl'>;
}

/** Authenticates the calling client of a token, revocation or introspection request (see `authenticateClient`). */
export const clientAuthenticator =
  ({ clients, storage, config }: ClientAuthenticationDependencies) =>
  (c: Context, form: Record<string, string>): Promise<OAuthClient> =>
    authenticateClient(c, form, { clients, storage, issuer: config.publicUrl, endpoint: `${config.publicUrl}${c.req.path}` });
