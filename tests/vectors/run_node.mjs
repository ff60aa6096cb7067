// Runs the shared vectors against client_web/js/ in Node, with libsodium-wrappers from
// client_web/node_modules (the WebAssembly build). A quick check while developing; the
// browser run (test_vectors_browser.py) is the one that matters for users.
//   node tests/vectors/run_node.mjs            prints {"counts": …, "failures": […]}; exit 1 on failure
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { FILES, runVectors } from './runner.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const clientWeb = join(here, '..', '..', 'client_web');
const require = createRequire(join(clientWeb, 'package.json'));
const libsodium = require('libsodium-wrappers');
await libsodium.ready;

const names = ['sodium', 'errors', 'bytes', 'encoding', 'casekey', 'kdf', 'padding', 'signing', 'manifest', 'envelope',
  'attachment', 'reply', 'report_schema', 'upload_keys', 'pow'];
const modules = {};
for (const name of names) modules[name] = await import(join(clientWeb, 'js', `${name}.js`));
modules.sodium.setSodium(libsodium);
// As in the browser, where libsodium.js sets it: pow.js calls the library's own hash on its memory.
globalThis.libsodium = require('libsodium');

const vectors = {};
for (const name of FILES) vectors[name] = JSON.parse(readFileSync(join(here, `${name}.json`), 'utf8'));
const result = runVectors(modules, vectors);
console.log(JSON.stringify(result, null, 1));
process.exit(result.failures.length ? 1 : 0);
