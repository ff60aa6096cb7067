// The recipients manifest (docs/PROTOCOL.md, "Recipients manifest"; crypto/manifest.py):
// which desks may open reports and sign replies, signed by the organisation's offline root
// key, whose public half the page pins from /deployment.json.
import { ProtocolError } from './errors.js';
import { concat, equal, toHex, utf8 } from './bytes.js';
import { b64decode, field, isInt, jsonLoad } from './encoding.js';
import { getSodium } from './sodium.js';
import { verify } from './signing.js';

const FORMAT = 'quietline.manifest';
const VERSION = 1;
const KEY_ID_LABEL = utf8('quietline/desk-key-id/v1');
const FINGERPRINT_LABEL = utf8('quietline/fingerprint/v1');
export const DESK_ID = /^[a-z0-9][a-z0-9-]{0,31}$/; // JS "$" never matches before a final "\n"
export const DAY = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;
const MAX_DESKS = 16;

// A key's fingerprint for people to compare: "XXXX XXXX … XXXX" (8 groups of 4 hex digits).
export function fingerprint(publicKey) {
  const hex = toHex(getSodium().crypto_generichash(16, publicKey, FINGERPRINT_LABEL)).toUpperCase();
  return hex.match(/.{4}/g).join(' ');
}

// 8 bytes naming a desk's key pair inside envelopes and replies.
export function keyId(boxPublic, signPublic) {
  return getSodium().crypto_generichash(32, concat(boxPublic, signPublic), KEY_ID_LABEL).slice(0, 8);
}

export function deskByKeyId(manifest, id) {
  const desk = manifest.desks.find((d) => equal(d.keyId, id));
  if (!desk) throw new ProtocolError('unknown_desk', 'signed by a desk key that is not in the manifest');
  return desk;
}

export function deskById(manifest, id) {
  const desk = manifest.desks.find((d) => d.id === id);
  if (!desk) throw new ProtocolError('unknown_desk', `desk ${id} is not in the manifest`);
  return desk;
}

const isVersion = (value) => isInt(value) && value === VERSION;

// `data`: the manifest file's bytes. Returns {org, issued, desks: [{id, name, boxPublic,
// signPublic, keyId}]}, in the file's order, or throws ProtocolError. Checks run in
// Python's order so that both sides give the same code.
export function verifyManifest(data, rootPublic) {
  const outer = jsonLoad(data, { what: 'manifest' });
  if (field(outer, 'format') !== FORMAT) throw new ProtocolError('bad_manifest', 'not a Quietline manifest');
  if (!isVersion(field(outer, 'v'))) throw new ProtocolError('unsupported_version', 'manifest version is not supported');
  const body = b64decode(field(outer, 'body'), { field: 'manifest body' });
  const signature = b64decode(field(outer, 'signature'), { field: 'manifest signature' });
  verify('manifest', body, signature, rootPublic);
  return parseBody(jsonLoad(body, { what: 'manifest body' }));
}

function parseDesk(desk) {
  if (desk === null || typeof desk !== 'object' || Array.isArray(desk)) {
    throw new ProtocolError('bad_manifest', 'a desk entry must be a JSON object');
  }
  const id = field(desk, 'id');
  const name = field(desk, 'name');
  if (typeof id !== 'string' || typeof name !== 'string') {
    throw new ProtocolError('bad_manifest', 'a desk has a text id and name');
  }
  const boxPublic = b64decode(field(desk, 'box_pk'), { field: 'desk box key', length: 32 });
  const signPublic = b64decode(field(desk, 'sign_pk'), { field: 'desk signing key', length: 32 });
  return { id, name, boxPublic, signPublic, keyId: keyId(boxPublic, signPublic) };
}

function parseBody(body) {
  if (!isVersion(field(body, 'v'))) throw new ProtocolError('unsupported_version', 'manifest body version is not supported');
  const desks = field(body, 'desks');
  if (!Array.isArray(desks) || desks.length < 1 || desks.length > MAX_DESKS) {
    throw new ProtocolError('bad_manifest', `a manifest lists 1 to ${MAX_DESKS} desks`);
  }
  const parsed = desks.map(parseDesk);
  const org = field(body, 'org');
  const issued = field(body, 'issued');
  if (typeof org !== 'string' || typeof issued !== 'string') {
    throw new ProtocolError('bad_manifest', 'a manifest has a text org and issue day');
  }
  const manifest = { org, issued, desks: parsed };
  check(manifest);
  return manifest;
}

const distinct = (values) => new Set(values).size === values.length;

function check(manifest) {
  if (!DAY.test(manifest.issued)) throw new ProtocolError('bad_manifest', 'manifest issue day must be YYYY-MM-DD');
  const ids = manifest.desks.map((d) => d.id);
  if (!distinct(ids) || !ids.every((id) => DESK_ID.test(id))) {
    throw new ProtocolError('bad_manifest', 'desk ids must be unique lowercase slugs');
  }
  // No two desks share a key: not the pair (key id), nor either key on its own.
  for (const name of ['keyId', 'boxPublic', 'signPublic']) {
    if (!distinct(manifest.desks.map((d) => toHex(d[name])))) {
      throw new ProtocolError('bad_manifest', 'two desks share a key');
    }
  }
}
