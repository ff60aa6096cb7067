// Everything a case key opens, derived with domain separation (docs/PROTOCOL.md,
// "Key derivation"; crypto/kdf.py). Python computes crypto_kdf_derive_from_key by its
// definition because PyNaCl does not bind it; here libsodium's own is used, and the shared
// vectors prove the two agree.
import { ProtocolError } from './errors.js';
import { toHex, utf8 } from './bytes.js';
import { getSodium } from './sodium.js';

const ROOT_LABEL = utf8('quietline/case-root/v1');
const CASE_ID_LABEL = utf8('quietline/case-id/v1');
const KDF_CONTEXT = 'QLcase01';
const LOOKUP_ID = 1;
const REPLY_ID = 2;
const SIGN_ID = 3;

export function deriveCaseKeys(caseKey) {
  if (!(caseKey instanceof Uint8Array) || caseKey.length !== 16) {
    throw new ProtocolError('bad_length', 'a case key has 16 bytes');
  }
  const sodium = getSodium();
  const root = sodium.crypto_generichash(32, caseKey, ROOT_LABEL);
  const derive = (id) => kdfDerive(root, id, KDF_CONTEXT);
  const reply = sodium.crypto_box_seed_keypair(derive(REPLY_ID));
  const sign = sodium.crypto_sign_seed_keypair(derive(SIGN_ID));
  return {
    lookup: derive(LOOKUP_ID), // sent to the server; the server keeps only caseId(lookup)
    replyPublic: reply.publicKey, // X25519: desks seal replies to it
    replySecret: reply.privateKey,
    signPublic: sign.publicKey, // Ed25519: signs the report and follow-ups
    signSecret: sign.privateKey, // 64 bytes, seed || public, as libsodium and Python use
  };
}

// The case's public index, a one-way hash of the lookup token (32 hex characters): a seized
// database cannot be used to read replies or pose as the submitter.
export function caseId(lookup) {
  if (!(lookup instanceof Uint8Array) || lookup.length !== 32) {
    throw new ProtocolError('bad_length', 'a lookup token has 32 bytes');
  }
  return toHex(getSodium().crypto_generichash(16, lookup, CASE_ID_LABEL));
}

// libsodium's crypto_kdf_derive_from_key, with the reference's argument order and checks
// (crypto.kdf.kdf_derive); exported for the shared vectors.
export function kdfDerive(master, subkeyId, context, length = 32) {
  if (!(master instanceof Uint8Array) || master.length !== 32 || typeof context !== 'string' || utf8(context).length !== 8) {
    throw new ProtocolError('bad_length', 'kdf needs a 32-byte key and an 8-byte context');
  }
  return getSodium().crypto_kdf_derive_from_key(length, subkeyId, context, master);
}
