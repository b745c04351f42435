// `npm pack -w @lanyard/server` (prepack): ships the built admin console inside the server package,
// in console-dist/, where the server looks when the repository's packages/console/dist is absent.
import { cpSync, existsSync, rmSync } from 'node:fs';

const from = new URL('../packages/console/dist/', import.meta.url);
const to = new URL('../packages/server/console-dist/', import.meta.url);
if (!existsSync(new URL('index.html', from))) {
  console.error('The admin console is not built: run `npm run build` (or `npm run build -w @lanyard/console`) before packing.');
  process.exit(1);
}
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true });
