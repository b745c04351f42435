// The development SAML IdP: for the demo launcher and the tests only, never a production path.
export { startDevIdp, type DevIdp, type DevIdpOptions, type ResponseRequest, type UnsolicitedResponseRequest } from './server.ts';
export { loginHeadless, parseAutoPostForm, type AutoPostForm } from './headless.ts';
export { generateSigningCredentials, type SigningCredentials } from './credentials.ts';
export { DEFAULT_USERS, DevSignInError, type DevUser } from './users.ts';
export type { SignedResponse, LoginResponseOptions } from './login-response.ts';
export type { ServiceProviderRegistration } from './service-providers.ts';
export type { SignatureAlgorithm } from './identity-provider.ts';
