/**
 * The service-provider URLs the CLI prints are built from LANYARD_PUBLIC_URL. Without it they
 * name the listening address (127.0.0.1), which no IdP can reach: an admin who pastes them into
 * the IdP gets sign-ins that fail far away from the cause. Say so next to the URLs.
 */
export function publicUrlWarning(printedUrl: string | null | undefined, env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.LANYARD_PUBLIC_URL) return null;
  if (!printedUrl) return null;
  return (
    `Warning: LANYARD_PUBLIC_URL is not set in this shell, so the URLs above (to register at the identity provider) use ${new URL(printedUrl).origin}, ` +
    'the default, which is not the URL the server is reached at if it runs on another host or port, and which an identity provider elsewhere cannot reach. ' +
    'Set LANYARD_PUBLIC_URL to the URL the server is reached at (as the server has it) and run this again before registering the URLs at the IdP.'
  );
}
