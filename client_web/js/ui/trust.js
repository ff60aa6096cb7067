// The recipients manifest is trusted only if the organisation's root key, pinned in
// /deployment.json (part of the published client), signed it.

import { request } from './api.js';
import { b64decode } from '../encoding.js';
import { verifyManifest, fingerprint } from '../manifest.js';

let trust = null;

export async function loadTrust() {
  if (!trust) {
    trust = (async () => {
      const deployment = await request('GET', '/deployment.json');
      const rootPk = b64decode(deployment.root_pk);
      const response = await fetch('/api/v1/manifest', { credentials: 'omit', cache: 'no-store' });
      if (!response.ok) throw new Error('manifest unavailable');
      const manifest = verifyManifest(new Uint8Array(await response.arrayBuffer()), rootPk);
      return { manifest, rootFingerprint: fingerprint(rootPk) };
    })();
    trust.catch(() => { trust = null; });
  }
  return trust;
}
