// Report and follow-up envelopes (docs/PROTOCOL.md, "Envelope"; crypto/envelope.py): the body
// is signed with the case key, padded, encrypted under a random data key, and that key is
// sealed to every desk in the manifest. The browser only seals; desks open them offline.
import { ProtocolError } from './errors.js';
import { concat, equal, toHex, utf8 } from './bytes.js';
import { jsonBytes } from './encoding.js';
import { MESSAGE_BUCKETS, padMessage } from './padding.js';
import { sign } from './signing.js';
import { getSodium } from './sodium.js';

export const MAGIC = utf8('QLEN');
export const VERSION = 1;
export const KINDS = { report: 1, followup: 2 };
const KEY_ID_BYTES = 8;
const SEALED_KEY_BYTES = 32 + 48; // crypto_box_seal adds an ephemeral key and a MAC
const ENTRY_BYTES = KEY_ID_BYTES + SEALED_KEY_BYTES;
const NONCE_BYTES = 24;
const AEAD_TAG = 16;
const MAX_RECIPIENTS = 16;

// `desks`: the verified manifest's desks ({keyId, boxPublic, …}). Returns the envelope bytes.
export function seal(kind, body, signSecret, desks) {
  if (!Object.hasOwn(KINDS, kind)) throw new Error(`unknown envelope kind ${kind}`);
  if (desks.length < 1 || desks.length > MAX_RECIPIENTS) {
    throw new ProtocolError('bad_recipients', `an envelope has 1 to ${MAX_RECIPIENTS} recipients`);
  }
  if (new Set(desks.map((desk) => toHex(desk.keyId))).size !== desks.length) {
    throw new ProtocolError('bad_recipients', 'an envelope names each recipient once');
  }
  const sodium = getSodium();
  const bodyBytes = jsonBytes(body);
  const inner = concat(sign(kind, bodyBytes, signSecret), bodyBytes);
  const dataKey = sodium.randombytes_buf(32);
  const parts = [MAGIC, Uint8Array.of(VERSION, KINDS[kind], desks.length)];
  for (const desk of desks) parts.push(desk.keyId, sodium.crypto_box_seal(dataKey, desk.boxPublic));
  const nonce = sodium.randombytes_buf(NONCE_BYTES);
  parts.push(nonce);
  // The whole header is the AEAD's additional data: no recipient, kind or version can be
  // changed or dropped without the desk noticing.
  const header = concat(...parts);
  const ciphertext = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(padMessage(inner), header, null, nonce, dataKey);
  sodium.memzero(dataKey);
  return concat(header, ciphertext);
}

const KIND_NAMES = new Map(Object.entries(KINDS).map(([name, value]) => [value, name]));

// Check the framing without any key, as the server does before storing an envelope.
export function parseHeader(envelope, { expectKind = null } = {}) {
  if (envelope.length < 7 || !equal(envelope.subarray(0, 4), MAGIC)) {
    throw new ProtocolError('bad_envelope', 'not a Quietline envelope');
  }
  if (envelope[4] !== VERSION) throw new ProtocolError('unsupported_version', `envelope version ${envelope[4]} is not supported`);
  const kind = KIND_NAMES.get(envelope[5]);
  if (kind === undefined) throw new ProtocolError('bad_envelope', 'unknown envelope kind');
  if (expectKind !== null && kind !== expectKind) {
    throw new ProtocolError('wrong_kind', `expected a ${expectKind} envelope, got a ${kind}`);
  }
  const count = envelope[6];
  if (count < 1 || count > MAX_RECIPIENTS) {
    throw new ProtocolError('bad_recipients', `an envelope has 1 to ${MAX_RECIPIENTS} recipients`);
  }
  const headerLength = 7 + count * ENTRY_BYTES + NONCE_BYTES;
  if (!MESSAGE_BUCKETS.includes(envelope.length - headerLength - AEAD_TAG)) {
    throw new ProtocolError('bad_envelope', 'envelope size is not a padding bucket');
  }
  const recipients = [];
  for (let i = 0; i < count; i += 1) {
    const start = 7 + i * ENTRY_BYTES;
    recipients.push(envelope.slice(start, start + KEY_ID_BYTES));
  }
  if (new Set(recipients.map(toHex)).size !== count) {
    throw new ProtocolError('bad_recipients', 'an envelope names each recipient once');
  }
  return { kind, recipients, headerLength, totalLength: envelope.length };
}
