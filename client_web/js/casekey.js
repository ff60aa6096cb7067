// Case key: 128 random bits plus a 12-bit checksum, as 28 Crockford base32 characters
// (docs/PROTOCOL.md, "Case key"; crypto/casekey.py). Parsing forgives what phone keyboards in
// the six UN languages produce; the rules and error codes are exactly Python's.
import { ProtocolError } from './errors.js';
import { utf8 } from './bytes.js';
import { getSodium } from './sodium.js';

export const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const KEY_BYTES = 16;
export const LENGTH = 28; // (128 + 12) / 5
const CHECK_BITS = 12n;
const GROUP = 4;
const CHECK_LABEL = utf8('quietline/case-key-check/v1');

const DECODE = new Map([...ALPHABET].map((c, i) => [c, BigInt(i)]));
// Crockford's own aliases, then look-alikes a phone in another script may produce.
const ALIASES = new Map([['O', '0'], ['I', '1'], ['L', '1']]);
const CYRILLIC = new Map([...'АВЕКМНОРСТХ'].map((c, i) => [c, 'ABEKMH0PCTX'[i]]));
const DIGITS = new Map();
for (let i = 0; i < 10; i += 1) {
  DIGITS.set(String.fromCodePoint(0x0660 + i), String(i)); // Arabic-Indic
  DIGITS.set(String.fromCodePoint(0x06f0 + i), String(i)); // Extended (Persian, Urdu)
}
const SEPARATORS = new Set(' \t\r\n-_.\u00a0\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u3000\u30fb');

export function generate() {
  return getSodium().randombytes_buf(KEY_BYTES);
}

function checksum(key) {
  const digest = getSodium().crypto_generichash(32, key, CHECK_LABEL);
  return BigInt((digest[0] << 4) | (digest[1] >> 4));
}

function toBigInt(bytes) {
  let n = 0n;
  for (const byte of bytes) n = (n << 8n) | BigInt(byte);
  return n;
}

// Format 16 key bytes as XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX.
export function encode(key) {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
    throw new ProtocolError('bad_length', 'a case key has 16 bytes');
  }
  let number = (toBigInt(key) << CHECK_BITS) | checksum(key);
  const chars = [];
  for (let i = 0; i < LENGTH; i += 1) {
    chars.push(ALPHABET[Number(number & 31n)]);
    number >>= 5n;
  }
  const text = chars.reverse().join('');
  const groups = [];
  for (let i = 0; i < LENGTH; i += GROUP) groups.push(text.slice(i, i + GROUP));
  return groups.join('-');
}

// Map whatever a keyboard produced to the 28 canonical characters (or throw).
export function normalize(text) {
  if (typeof text !== 'string') {
    throw new ProtocolError('case_key_invalid_character', 'the case key must be text');
  }
  const out = [];
  // for..of walks code points, like Python's str iteration.
  for (let ch of text.normalize('NFKC')) {
    if (SEPARATORS.has(ch)) continue;
    ch = (DIGITS.get(ch) ?? ch).toUpperCase();
    ch = CYRILLIC.get(ch) ?? ch;
    ch = ALIASES.get(ch) ?? ch;
    if (!DECODE.has(ch)) {
      throw new ProtocolError('case_key_invalid_character', 'the case key has a character that is not in it');
    }
    out.push(ch);
  }
  if (out.length !== LENGTH) {
    throw new ProtocolError('case_key_wrong_length', `a case key has ${LENGTH} characters, this has ${out.length}`);
  }
  return out.join('');
}

// The 16 key bytes, or a ProtocolError whose code the page translates.
export function parse(text) {
  let number = 0n;
  for (const ch of normalize(text)) number = (number << 5n) | DECODE.get(ch);
  const check = number & ((1n << CHECK_BITS) - 1n);
  let rest = number >> CHECK_BITS;
  const key = new Uint8Array(KEY_BYTES);
  for (let i = KEY_BYTES - 1; i >= 0; i -= 1) {
    key[i] = Number(rest & 255n);
    rest >>= 8n;
  }
  if (check !== checksum(key)) throw new ProtocolError('case_key_bad_checksum', 'the case key has a typing mistake');
  return key;
}
