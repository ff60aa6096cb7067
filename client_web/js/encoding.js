// Byte encodings shared by every format, exactly as crypto/encoding.py writes and reads them:
// canonical standard base64 with padding, and compact JSON with sorted keys.
import { ProtocolError } from './errors.js';
import { utf8 } from './bytes.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const VALUES = new Map([...ALPHABET].map((c, i) => [c, i]));
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function b64encode(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63];
    out += i + 1 < bytes.length ? ALPHABET[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.length ? ALPHABET[n & 63] : '=';
  }
  return out;
}

// Only the canonical spelling is accepted (no whitespace, exact padding, zero trailing bits),
// the same rule as Python's b64decode, so one value has exactly one text.
export function b64decode(text, { field = 'value', length = null } = {}) {
  if (typeof text !== 'string') throw new ProtocolError('bad_base64', `${field} must be a base64 string`);
  if (!BASE64.test(text)) throw new ProtocolError('bad_base64', `${field} is not valid base64`);
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const n = (VALUES.get(text[i]) << 18) | (VALUES.get(text[i + 1]) << 12)
      | ((VALUES.get(text[i + 2]) ?? 0) << 6) | (VALUES.get(text[i + 3]) ?? 0);
    out[o++] = n >> 16;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  if (b64encode(out) !== text) throw new ProtocolError('bad_base64', `${field} is not canonical base64`);
  if (length !== null && out.length !== length) {
    throw new ProtocolError('bad_length', `${field} must be ${length} bytes, got ${out.length}`);
  }
  return out;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const SHORT_ESCAPES = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

// Python's json.dumps(ensure_ascii=False) escapes only '"', '\\' and C0 controls (\u00XX in
// lower case); everything else, U+2028 included, is written as UTF-8.
function quote(text) {
  if (LONE_SURROGATE.test(text)) throw new ProtocolError('bad_json', 'text is not valid Unicode');
  const escaped = text.replace(/[\u0000-\u001f"\\]/g,
    (c) => SHORT_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `"${escaped}"`;
}

// Python's sort_keys orders str by Unicode code point; Array.prototype.sort would order by
// UTF-16 code unit, which differs for characters above U+FFFF. Protocol keys are ASCII, but
// the rule is kept exact anyway.
function byCodePoint(a, b) {
  const x = Array.from(a, (c) => c.codePointAt(0));
  const y = Array.from(b, (c) => c.codePointAt(0));
  for (let i = 0; i < Math.min(x.length, y.length); i += 1) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

function isPlainObject(value) {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function serialise(value) {
  if (value === null) return 'null';
  if (value === true) return 'true';
  if (value === false) return 'false';
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'number') {
    // Numbers are integers a double holds exactly: what Python and JavaScript print alike.
    if (!Number.isSafeInteger(value)) throw new ProtocolError('bad_json', 'JSON numbers are integers within ±(2**53 - 1)');
    return String(value); // -0 prints as "0", like Python's int 0
  }
  if (Array.isArray(value)) return `[${value.map(serialise).join(',')}]`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value).sort(byCodePoint);
    return `{${keys.map((k) => `${quote(k)}:${serialise(value[k])}`).join(',')}}`;
  }
  // undefined, functions, typed arrays, BigInt: Python would raise TypeError too.
  throw new TypeError(`${Object.prototype.toString.call(value)} is not JSON`);
}

// Deterministic compact JSON; signatures cover these exact bytes (crypto.encoding.json_bytes).
export function jsonBytes(value) {
  return utf8(serialise(value));
}

// Strings are skipped whole, so only number tokens outside them are matched.
const TOKENS = /"(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*/g;

export function jsonLoad(bytes, { what = 'value' } = {}) {
  let value;
  let text;
  try {
    // fatal: invalid UTF-8 is refused; ignoreBOM keeps a BOM so JSON.parse refuses it, as Python does.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    value = JSON.parse(text);
  } catch (err) {
    throw new ProtocolError('bad_json', `${what} is not UTF-8 JSON`);
  }
  // JSON.parse reads 1.0 as 1 and 2**53 + 1 as 2**53; Python's reader refuses both, so do we.
  for (const [token] of text.matchAll(TOKENS)) {
    if (token[0] !== '"' && (/[.eE]/.test(token) || !Number.isSafeInteger(Number(token)))) {
      throw new ProtocolError('bad_json', `${what} has a number that is not a safe integer`);
    }
  }
  if (!isPlainObject(value) || Array.isArray(value)) throw new ProtocolError('bad_json', `${what} must be a JSON object`);
  return value;
}

// Python's dict.get: own properties only, so "constructor" or "__proto__" never leak in.
export function field(object, key) {
  return Object.prototype.hasOwnProperty.call(object, key) ? object[key] : undefined;
}

// A JSON integer (booleans are not, unlike Python's bool).
export function isInt(value) {
  return Number.isSafeInteger(value);
}
