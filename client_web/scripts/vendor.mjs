// Copies the pinned libsodium.js files from node_modules/ into vendor/, the only third-party
// code the page loads, after checking they are the exact bytes js/sodium.js pins (SHA-384,
// also enforced by the browser through Subresource Integrity), and writes vendor/SHA256SUMS
// for people and deploy tooling. Run after `npm ci`: node client_web/scripts/vendor.mjs
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { VENDOR_FILES } from '../js/sodium.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const vendor = join(root, 'vendor');
mkdirSync(vendor, { recursive: true });

const sums = [];
for (const file of VENDOR_FILES) {
  const data = readFileSync(join(root, file.from));
  const sri = `sha384-${createHash('sha384').update(data).digest('base64')}`;
  if (sri !== file.integrity) {
    console.error(`vendor: ${file.from} is not the pinned file (got ${sri}, want ${file.integrity})`);
    process.exit(1);
  }
  // Write then rename, so a server never serves a half-written file.
  const target = join(vendor, file.name);
  writeFileSync(`${target}.tmp`, data);
  renameSync(`${target}.tmp`, target);
  sums.push(`${createHash('sha256').update(data).digest('hex')}  ${file.name}\n`);
}
writeFileSync(join(vendor, 'SHA256SUMS'), sums.join(''));
console.log(`vendor: copied ${VENDOR_FILES.length} files to ${vendor}`);
