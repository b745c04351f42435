import { z } from 'zod';

/**
 * The console's own API's response shapes (`/console/session`, `/console/test-sign-in`), written
 * once as zod schemas as admin/responses.ts writes the admin API's: the server's console code
 * returns the inferred types and the console imports them (`import type … from
 * '../../server/src/console/responses.ts'`). Only zod here, so that the console's type check
 * never reaches the server's SAML and XML libraries. Not in the OpenAPI document: the console API
 * serves the console alone. Times are ISO 8601 strings (UTC).
 */

/** `GET|POST /console/session`: the session's CSRF token (send it as X-CSRF-Token) and its admin key. */
export const ConsoleSession = z.object({
  csrf_token: z.string(),
  admin_key: z.object({ sid: z.string(), name: z.string() }),
  expires_at: z.iso.datetime(),
});

/** The service provider a test sign-in goes through; OpenID Connect connections have only the enhanced one. */
export const TestServiceProvider = z.enum(['enhanced', 'legacy']);

/** A mandatory attribute (or claim) the IdP did not send, in words (error 45050). */
export const MissingAttribute = z.object({
  attribute: z.string(),
  looked_for: z.array(z.string()).describe('The attribute (claim) names the mapping looked for'),
  explanation: z.string(),
});

/** What the IdP sent for one test sign-in and what Lanyard made of it. */
export const TestSignInReport = z.object({
  id: z.string().describe('ct_…'),
  account_sid: z.string(),
  connection_sid: z.string(),
  /** Absent on reports stored before it was added (they live an hour). */
  protocol: z.enum(['saml', 'oidc']).nullable().optional().describe("The connection's protocol; null when it could not be told"),
  service_provider: TestServiceProvider,
  finished_at: z.iso.datetime(),
  succeeded: z.boolean(),
  name_id: z.string().nullable().describe("The user's unique id (from the SAML NameID, the OIDC sub, or the attribute the policy names)"),
  issuer: z.string().nullable().describe('SAML assertion Issuer, or the ID token iss: what the IdP sent; null when its answer carried none'),
  /** Absent on reports stored before it was added (they live an hour). */
  configured_issuer: z
    .string()
    .nullable()
    .optional()
    .describe("The connection's configured issuer (SAML IdP entity ID or OpenID Connect provider issuer), shown when the answer named none"),
  attributes: z.record(z.string(), z.array(z.string())).describe('SAML attributes or OIDC claims (nested claims as dotted paths)'),
  profile: z.object({ full_name: z.string().nullable(), email: z.string().nullable(), roles: z.array(z.string()), image_url: z.string().nullable() }),
  dropped_roles: z.array(z.string()).describe('Role values neither recognised nor mapped: a real sign-in leaves them out of the token'),
  missing: z.array(MissingAttribute),
  warnings: z.array(z.string()),
  error: z.object({ code: z.number().int(), message: z.string() }).nullable(),
});

/** `POST /console/test-sign-in`: open `url` in a window; ask `GET /console/test-sign-in/{id}` for the report. */
export const TestSignInStarted = z.object({
  id: z.string(),
  url: z.string(),
  service_provider: TestServiceProvider,
  waiting: z.string().describe('How long the answer is awaited (the sign-in lifetime) and the usual cause when none comes, in words'),
  expires_at: z.iso.datetime().describe('When the test stops waiting for the IdP (then its status is "expired")'),
});

/**
 * `GET /console/test-sign-in/{id}`: pending until the IdP has answered; expired when it never
 * answered within the sign-in lifetime (e.g. it showed its own error: an unregistered redirect URI).
 */
export const TestSignInStatus = z.discriminatedUnion('status', [
  z.object({ status: z.literal('pending') }),
  z.object({ status: z.literal('done'), report: TestSignInReport }),
  z.object({
    status: z.literal('expired'),
    message: z.string().describe('What happened and what to register at the IdP, in words'),
    protocol: z.enum(['saml', 'oidc']),
    endpoint: z.string().describe('Where the IdP must answer: the OIDC redirect URI, or the SAML ACS URL'),
    expired_at: z.iso.datetime(),
  }),
]);

export type ConsoleSession = z.infer<typeof ConsoleSession>;
export type TestServiceProvider = z.infer<typeof TestServiceProvider>;
export type MissingAttribute = z.infer<typeof MissingAttribute>;
export type TestSignInReport = z.infer<typeof TestSignInReport>;
export type TestSignInStarted = z.infer<typeof TestSignInStarted>;
export type TestSignInStatus = z.infer<typeof TestSignInStatus>;
