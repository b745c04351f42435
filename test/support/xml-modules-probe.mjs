// Preloaded into a `lanyard serve` under test (NODE_OPTIONS=--import): when the process exits,
// writes to LANYARD_TEST_XML_MODULES_OUT the XML libraries its main thread loaded, as
// "package/file" paths. They are CommonJS packages, so each file the main thread loaded, by
// import or require, is in that thread's module cache; worker threads have caches of their own.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';

const XML_LIBRARIES = /node_modules[\\/]((?:@xmldom[\\/]xmldom|xml-crypto|xml-encryption|xpath|xmlbuilder2?|@node-saml[\\/]node-saml)[\\/].*)$/;

if (isMainThread && process.env.LANYARD_TEST_XML_MODULES_OUT) {
  const out = process.env.LANYARD_TEST_XML_MODULES_OUT;
  const cache = createRequire(import.meta.url).cache;
  process.on('exit', () => {
    const loaded = Object.keys(cache).flatMap((file) => XML_LIBRARIES.exec(file)?.[1] ?? []);
    writeFileSync(out, JSON.stringify(loaded));
  });
}
