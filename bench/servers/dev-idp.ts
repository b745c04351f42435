/** The development SAML IdP (samlify) in its own process: the browser's IdP in the login benches. */
import { startDevIdp } from '../../packages/demo/src/dev-idp/index.ts';
import { exitWithParent } from '../lib/parent-link.ts';

// Registered before any start-up work: a bench that dies meanwhile leaves nothing running.
exitWithParent();

const users = Array.from({ length: 100 }, (_, i) => ({
  id: `agent${i}@bench.example`,
  full_name: `Agent ${i}`,
  email: `agent${i}@bench.example`,
  roles: ['agent'],
}));
const idp = await startDevIdp({ port: 0, users });
process.send!({ type: 'ready', url: idp.url, metadataXml: idp.metadataXml, certificatePem: idp.certificatePem });
process.on('message', (message: { id: number; cmd: string }) => {
  if (message.cmd === 'stop')
    void idp.close().then(() => {
      process.send!({ id: message.id, result: null });
      process.exit(0);
    });
});
