/** Packages bundled into the output (see build.mjs). */
export declare const BUNDLED_PACKAGES: Set<string>;

/**
 * Bundles `entryPoints` (output name → TypeScript file) and the SAML verification worker into
 * `outdir` as `<name>.mjs` plus shared chunks, as `npm run build` bundles the `lanyard` command.
 * Resolves to the names of the packages the output imports at run time.
 */
export declare function bundleServer(options: { entryPoints: Record<string, string>; outdir: string }): Promise<Set<string>>;
