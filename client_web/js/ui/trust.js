// The recipients manifest is trusted only if the organisation's root key, pinned in
// /deployment.json (part of the published client), signed it.

import { request } from './api.js';
import { b64decode } from '../encoding.js';
import { verifyManifest, fingerprint } from '../manifest.js';
import { ProtocolError } from '../errors.js';

let trust = null;

export async function loadTrust() {
  if (!trust) {
    trust = (async () => {
      const deployment = await request('GET', '/deployment.json');
      const rootPk = b64decode(deployment.root_pk);
      const response = await fetch('/api/v1/manifest', { credentials: 'omit', cache: 'no-store' });
      if (!response.ok) throw new Error('manifest unavailable');
      const data = new Uint8Array(await response.arrayBuffer());
      let manifest;
      try {
        manifest = verifyManifest(data, rootPk);
      } catch (error) {
        // However it fails (signature, version, format), the person is told one thing: the
        // service's keys failed their check, so nothing may be sent (errors.bad_manifest).
        if (error instanceof ProtocolError) throw new ProtocolError('bad_manifest', `manifest refused: ${error.code}`);
        throw error;
      }
      return { manifest, rootFingerprint: fingerprint(rootPk) };
    })();
    trust.catch(() => { trust = null; });
  }
  return trust;
}
