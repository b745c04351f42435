/** Records kept per account. Stored through the storage port as kind `account` / `connection`. */
export type SsoMode = 'legacy' | 'enhanced' | 'both';

/** What tokens carry of an account; fixed at its creation. */
export type AccountIdentity = Pick<Account, 'sid' | 'instanceSid'>;

export interface Account {
  sid: string;
  friendlyName: string;
  instanceSid: string;
  /** SHA-256 of the account auth token (Basic auth for the validate endpoint). Shown once. */
  authTokenHash: string;
  trustedUrls: string[];
  /** Where IdP-initiated logins land (and required for self-hosted enhanced SSO). */
  defaultRedirectUrl: string | null;
  /** IdP-initiated (unsolicited) SAML logins; off by default: login CSRF risk. */
  idpInitiatedLogin: boolean;
  ssoMode: SsoMode;
  /** Desktops sign in in a popup window (appConfig `sso.loginPopup`); absent on older records: false. */
  loginPopup?: boolean;
  /**
   * Roles this account uses beside admin, supervisor and agent (e.g. Flex Insights `wfo.*`),
   * lower case. A sign-in keeps only recognised or mapped role values. Absent on older records: none.
   */
  declaredRoles?: string[];
  /** When the account last left a mode; switching back is allowed within the grace period. */
  modeChangedAt: number | null;
  previousMode: SsoMode | null;
  createdAt: number;
}

export interface SamlIdpSettings {
  /** The IdP's entity ID (Issuer of its responses). */
  issuer: string;
  /** SSO URL AuthnRequests are sent to, in `ssoBinding`. */
  ssoUrl: string;
  /** How AuthnRequests reach the IdP; absent on older records: HTTP-Redirect. */
  ssoBinding?: 'redirect' | 'post';
  /** The IdP's metadata says `WantAuthnRequestsSigned="true"`. */
  wantAuthnRequestsSigned?: boolean;
  /** The admin's choice to sign AuthnRequests; absent: follow `wantAuthnRequestsSigned`. */
  signAuthnRequests?: boolean;
  /** Accept RSA PKCS#1 v1.5 key transport in encrypted assertions (off: padding-oracle attacks). */
  allowRsa15KeyTransport?: boolean;
  /** In federation metadata (several entities): the IdP entity the admin chose, kept for refreshes. */
  metadataEntityId?: string | null;
  /** PEM certificates; any of them may sign (certificate rollover). */
  certificates: string[];
  metadataUrl: string | null;
  /** Allowed clock skew for NotBefore/NotOnOrAfter checks. */
  clockSkewSeconds: number;
}

export interface OidcIdpSettings {
  /** Issuer URL; its discovery document is at `/.well-known/openid-configuration`. */
  issuer: string;
  clientId: string;
  /** The client secret sealed with the server's secret key; null for a public client (PKCE only). */
  sealedClientSecret: string | null;
  scopes: string;
}

export interface AttributeMapping {
  full_name: string[];
  email: string[];
  roles: string[];
  image_url: string[];
  /** IdP value → Lanyard role, e.g. "cc-supervisors" → "supervisor". */
  roleValues: Record<string, string>;
}

export interface Connection {
  sid: string;
  accountSid: string;
  clientId: string;
  protocol: 'saml' | 'oidc';
  saml: SamlIdpSettings | null;
  /** Set when the connection brokers to an OpenID Connect provider instead of SAML. */
  oidc?: OidcIdpSettings | null;
  mapping: AttributeMapping;
  /** Exact redirect URIs for the standard OIDC surface (RFC 9700: exact matching). */
  redirectUris: string[];
  /** Which IdP value identifies a user; absent on older records: the NameID / `sub`, e-mail ids case-insensitive. */
  uniqueId?: UniqueIdPolicy;
  createdAt: number;
}

/**
 * Whether the connection points at an identity provider yet: SAML settings or an OpenID Connect
 * provider. The one answer to "has an IdP" (readiness, the public lookup, test sign-ins); a
 * connection created before its IdP has neither.
 */
export function hasIdentityProvider(connection: Connection): boolean {
  return connection.saml !== null || Boolean(connection.oidc);
}

export const DEFAULT_MAPPING: AttributeMapping = {
  full_name: ['full_name', 'name', 'displayName', 'http://schemas.microsoft.com/identity/claims/displayname'],
  email: ['email', 'mail', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress'],
  roles: ['roles', 'role', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role'],
  image_url: ['image_url'],
  roleValues: {},
};

/** Which IdP value identifies a user of this connection, and how it is compared. */
export interface UniqueIdPolicy {
  /** Take the unique id from this attribute (SAML) or claim (OIDC) instead of the NameID / `sub`. */
  attribute: string | null;
  /** Unique ids in e-mail form match whatever their letter case (`Ada@X.org` is `ada@x.org`). Default true. */
  caseInsensitiveEmail: boolean;
}
