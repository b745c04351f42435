/**
 * The part of SAML Jackson's API the Jackson baseline uses. The package is a benchmark-only peer
 * (bench/package.json, installed by `npm run bench`), so the default install and CI's typecheck
 * do not have its own types; this declaration keeps bench/ type-checked without it.
 */
declare module '@boxyhq/saml-jackson' {
  interface JacksonOption {
    externalUrl: string;
    samlPath: string;
    samlAudience?: string;
    db: { engine: string; [setting: string]: unknown };
    noAnalytics?: boolean;
    openid?: Record<string, unknown>;
    logger?: { info(message: string): void; error(message: string): void };
    [setting: string]: unknown;
  }
  interface OAuthController {
    authorize(body: never): Promise<unknown>;
    samlResponse(body: { SAMLResponse: string; RelayState: string }): Promise<unknown>;
    token(body: never): Promise<unknown>;
  }
  interface ConnectionAPIController {
    createSAMLConnection(body: never): Promise<unknown>;
  }
  interface Jackson {
    oauthController: OAuthController;
    connectionAPIController: ConnectionAPIController;
    close(): Promise<void>;
  }
  export default function jackson(options: JacksonOption): Promise<Jackson>;
}
