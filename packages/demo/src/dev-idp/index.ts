export { startDevIdp, type DevIdp, type DevIdpOptions } from './server.ts';
export { loginHeadless, parseAutoPostForm, type AutoPostForm } from './headless.ts';
export { generateSigningCredentials, type SigningCredentials } from './credentials.ts';
export { DEFAULT_USERS, type DevUser } from './users.ts';
