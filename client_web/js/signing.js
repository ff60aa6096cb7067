// Ed25519 with a purpose label (docs/PROTOCOL.md, "Signatures"; crypto/signing.py), so a
// signature made for one kind of object never verifies as another.
import { ProtocolError } from './errors.js';
import { concat, utf8 } from './bytes.js';
import { getSodium } from './sodium.js';

export const PURPOSES = ['report', 'followup', 'reply', 'manifest', 'bundle'];
export const SIGNATURE_BYTES = 64;

function domain(purpose) {
  // A programming error, not a protocol failure: Python raises ValueError here.
  if (!PURPOSES.includes(purpose)) throw new Error(`unknown signature purpose ${purpose}`);
  return utf8(`quietline:v1:${purpose}\n`);
}

// `secretKey` is libsodium's 64-byte Ed25519 secret key (seed || public).
export function sign(purpose, data, secretKey) {
  return getSodium().crypto_sign_detached(concat(domain(purpose), data), secretKey);
}

export function verify(purpose, data, signature, publicKey) {
  const message = concat(domain(purpose), data);
  if (signature.length !== SIGNATURE_BYTES) {
    throw new ProtocolError('bad_signature', `${purpose} signature has the wrong length`);
  }
  let ok = false;
  try {
    ok = getSodium().crypto_sign_verify_detached(signature, message, publicKey);
  } catch {
    ok = false; // a public key of the wrong length: Python's VerifyKey raises ValueError
  }
  if (!ok) throw new ProtocolError('bad_signature', `${purpose} signature does not verify`);
}
