#!/usr/bin/env node
// `npm start`: the demo (Lanyard on embedded SQLite + development SAML IdP + demo agent desktop).
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
