#!/usr/bin/env node
// `npm start`: the demo (Lanyard on embedded SQLite + development SAML IdP + demo agent desktop).
// The demo's own TypeScript runs through tsx (it is never published); the server it starts is the
// compiled @lanyard/server (dist/), which `npm start` builds first.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
