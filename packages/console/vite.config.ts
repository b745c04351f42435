import { defineConfig } from 'vite';

/**
 * The console is served by the Lanyard server at /console/ under a CSP that allows only its own
 * files: no inline script or style, no data: URIs, nothing from another origin.
 */
export default defineConfig({
  base: '/console/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
});
