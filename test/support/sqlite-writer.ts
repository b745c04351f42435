/**
 * Another process writing to a SQLite database file, as a CLI command beside a running server
 * does: `node --import tsx sqlite-writer.ts <file> <ms>` inserts records, each its own
 * transaction, as fast as it can for `ms` milliseconds, then prints how many it wrote.
 */
import { openStorage } from '../../packages/server/src/storage/open.ts';

const [file, ms] = process.argv.slice(2);
const storage = await openStorage(`sqlite:${file}`);
const end = Date.now() + Number(ms);
let written = 0;
while (Date.now() < end) {
  await storage.insert({ kind: 'other-process', id: `w${written}`, payload: { n: written } });
  written++;
}
await storage.close();
process.stdout.write(String(written));
