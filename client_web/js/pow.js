// Proof of work against flooding (docs/PROTOCOL.md, "Proof of work"; crypto/pow.py).
//
//   challenge = "QLPW" || 1 || purpose u8 || difficulty u8 || expires u32 BE || random 16 || MAC 32
//   work(n)   = BLAKE2b-32(challenge || binding || LE64(n))        0 ≤ n ≤ 2^53 − 1
//   valid     ⟺ work(n) has at least `difficulty` leading zero bits
//
// The server made and signed the challenge; the page only reads its difficulty, finds a
// counter and sends {challenge, nonce} with the request the binding names. solve() works in
// slices and yields to the event loop between them, so the page stays responsive.
import { ProtocolError } from './errors.js';
import { concat, fromHex } from './bytes.js';
import { getSodium } from './sodium.js';
import { resumeIndex } from './upload_keys.js';

export const REPORT = 1;
export const FOLLOWUP = 2;
export const UPLOAD = 3;
export const PURPOSES = Object.freeze({ report: REPORT, followup: FOLLOWUP, upload: UPLOAD });
export const CHALLENGE_BYTES = 59;
export const MAX_DIFFICULTY = 64;
const MAGIC = [0x51, 0x4c, 0x50, 0x57]; // "QLPW"
const VERSION = 1;
const BINDING_BYTES = { [REPORT]: 16, [FOLLOWUP]: 48, [UPLOAD]: 16 };
const TWO_32 = 2 ** 32;

// The fields of a challenge (its MAC is the server's business).
export function parseChallenge(bytes) {
  if (!(bytes instanceof Uint8Array) || bytes.length !== CHALLENGE_BYTES) {
    throw new ProtocolError('bad_challenge', `a challenge has ${CHALLENGE_BYTES} bytes`);
  }
  if (MAGIC.some((b, i) => bytes[i] !== b)) throw new ProtocolError('bad_challenge', 'not a proof-of-work challenge');
  if (bytes[4] !== VERSION) throw new ProtocolError('unsupported_version', 'unknown challenge version');
  const purpose = bytes[5];
  const difficulty = bytes[6];
  if (!(purpose in BINDING_BYTES)) throw new ProtocolError('bad_challenge', 'unknown purpose');
  if (difficulty > MAX_DIFFICULTY) throw new ProtocolError('bad_challenge', `difficulty is 0 to ${MAX_DIFFICULTY} bits`);
  const expires = ((bytes[7] << 24) >>> 0) + (bytes[8] << 16) + (bytes[9] << 8) + bytes[10];
  return { purpose, difficulty, expires, random: bytes.slice(11, 27) };
}

// LE64(n) for a counter a JavaScript number holds exactly.
export function nonceBytes(nonce) {
  if (!Number.isSafeInteger(nonce) || nonce < 0) {
    throw new ProtocolError('bad_nonce', 'the counter is an integer from 0 to 2^53 - 1');
  }
  const out = new Uint8Array(8);
  const low = nonce % TWO_32;
  const high = Math.floor(nonce / TWO_32);
  for (let i = 0; i < 4; i += 1) {
    out[i] = (low >>> (8 * i)) & 255;
    out[4 + i] = (high >>> (8 * i)) & 255;
  }
  return out;
}

function checkBinding(challenge, binding) {
  const { purpose, difficulty } = parseChallenge(challenge);
  if (!(binding instanceof Uint8Array) || binding.length !== BINDING_BYTES[purpose]) {
    throw new ProtocolError('bad_binding', `this purpose binds ${BINDING_BYTES[purpose]} bytes`);
  }
  return difficulty;
}

export function workHash(challenge, binding, nonce) {
  checkBinding(challenge, binding);
  return getSodium().crypto_generichash(32, concat(challenge, binding, nonceBytes(nonce)), null);
}

export function leadingZeroBits(digest) {
  let bits = 0;
  for (const byte of digest) {
    if (byte) return bits + Math.clz32(byte) - 24;
    bits += 8;
  }
  return bits;
}

export function isSolution(challenge, binding, nonce) {
  const difficulty = checkBinding(challenge, binding);
  return leadingZeroBits(workHash(challenge, binding, nonce)) >= difficulty;
}

function caseIdBytes(caseId) {
  if (typeof caseId !== 'string' || !/^[0-9a-f]{32}$/.test(caseId)) {
    throw new ProtocolError('bad_binding', 'a case id is 32 hex characters');
  }
  return fromHex(caseId);
}

// A report's binding: its case id (a replay is refused anyway: the case exists).
export function reportBinding(caseId) {
  return caseIdBytes(caseId);
}

// A follow-up's binding: its case id and the hash of the envelope's bytes.
export function followupBinding(caseId, envelope) {
  return concat(caseIdBytes(caseId), getSodium().crypto_generichash(32, envelope, null));
}

// An upload's binding: the resume index of its handle, as bytes.
export function uploadBinding(resume) {
  return fromHex(resumeIndex(resume));
}

// True when a digest's first bytes meet `difficulty` (the inner loop's test, without a loop).
function meetsTest(difficulty) {
  const whole = Math.min(32, difficulty >> 3);
  const rest = difficulty & 7;
  const limit = 256 >> rest; // the next byte must be below this
  return (bytes, at) => {
    for (let i = 0; i < whole; i += 1) if (bytes[at + i] !== 0) return false;
    return rest === 0 || bytes[at + whole] < limit;
  };
}

// libsodium's own crypto_generichash called on the library's memory, with the input written
// once and only the counter's 8 bytes changed per try: no allocation or copy per hash, about
// three times the wrapper's speed. Used only when the library exposes its module (the
// vendored libsodium.js sets globalThis.libsodium, the object libsodium-wrappers itself runs
// on) and its first hash equals the wrapper's; else null and the wrapper is used.
function directHasher(lib, input) {
  if (!lib || typeof lib._crypto_generichash !== 'function' || typeof lib._malloc !== 'function'
      || typeof lib._free !== 'function' || !(lib.HEAPU8 instanceof Uint8Array)) return null;
  const inPtr = lib._malloc(input.length);
  const outPtr = lib._malloc(32);
  if (!inPtr || !outPtr) {
    if (inPtr) lib._free(inPtr);
    if (outPtr) lib._free(outPtr);
    return null;
  }
  const at = inPtr + input.length - 8;
  return {
    // Tries counters [from, from + count); the first that `meets`, or -1.
    run(from, count, meets) {
      const heap = lib.HEAPU8; // read again each run: memory growth replaces the view
      heap.set(input.subarray(0, input.length - 8), inPtr);
      let high = Math.floor(from / TWO_32);
      let low = from % TWO_32;
      const put = (value, offset) => {
        heap[offset] = value & 255;
        heap[offset + 1] = (value >>> 8) & 255;
        heap[offset + 2] = (value >>> 16) & 255;
        heap[offset + 3] = (value >>> 24) & 255;
      };
      put(high, at + 4);
      for (let i = 0; i < count; i += 1) {
        put(low, at);
        lib._crypto_generichash(outPtr, 32, inPtr, input.length, 0, 0, 0);
        if (meets(heap, outPtr)) return high * TWO_32 + low;
        low += 1;
        if (low === TWO_32) {
          low = 0;
          high += 1;
          put(high, at + 4);
        }
      }
      return -1;
    },
    digest() {
      return lib.HEAPU8.slice(outPtr, outPtr + 32);
    },
    close() {
      lib._free(inPtr);
      lib._free(outPtr);
    },
  };
}

function wrapperHasher(input) {
  const sodium = getSodium();
  return {
    run(from, count, meets) {
      for (let n = from; n < from + count; n += 1) {
        input.set(nonceBytes(n), input.length - 8);
        if (meets(sodium.crypto_generichash(32, input, null), 0)) return n;
      }
      return -1;
    },
    close() {},
  };
}

// Tries counters in order from `start`: run(count) → the first solution among the next
// `count` counters, or -1. `direct: false` forces the wrapper (the vectors check both).
export class Searcher {
  constructor(challenge, binding, { start = 0, direct = true } = {}) {
    this.difficulty = checkBinding(challenge, binding);
    nonceBytes(start);
    this.next = start;
    this.meets = meetsTest(this.difficulty);
    const input = concat(challenge, binding, new Uint8Array(8));
    this.hasher = null;
    if (direct) {
      const fast = directHasher(globalThis.libsodium, input);
      if (fast) {
        // Trust it only if it agrees with the wrapper on the first counter.
        fast.run(start, 1, () => true);
        const want = workHash(challenge, binding, start);
        const got = fast.digest();
        if (got.length === 32 && got.every((b, i) => b === want[i])) this.hasher = fast;
        else fast.close();
      }
    }
    this.direct = this.hasher !== null;
    if (!this.hasher) this.hasher = wrapperHasher(input);
  }

  run(count) {
    const room = Number.MAX_SAFE_INTEGER - this.next + 1;
    if (room <= 0) throw new ProtocolError('bad_nonce', 'no counter up to 2^53 - 1 does the work');
    const n = Math.min(count, room);
    const found = this.hasher.run(this.next, n, this.meets);
    this.next = found >= 0 ? found + 1 : this.next + n;
    return found;
  }

  close() {
    this.hasher.close();
  }
}

// The first solution from `start`, at once (vectors and tools; the page uses solve()).
export function findNonce(challenge, binding, { start = 0, direct = true } = {}) {
  const searcher = new Searcher(challenge, binding, { start, direct });
  try {
    for (;;) {
      const found = searcher.run(1 << 16);
      if (found >= 0) return found;
    }
  } finally {
    searcher.close();
  }
}

// Yields to the event loop without the 4 ms clamp of nested timers.
function yieldToPage() {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

// Finds a counter for (challenge, binding), sliceMs of work at a time with the page free in
// between. `onProgress({tries, ms})` after each slice; `signal` (an AbortSignal) stops it with
// an AbortError. Resolves to the counter.
export async function solve(challenge, binding, { signal = null, onProgress = null, sliceMs = 40 } = {}) {
  const searcher = new Searcher(challenge, binding);
  const started = performance.now();
  let batch = 256;
  try {
    for (;;) {
      if (signal && signal.aborted) throw new DOMException('aborted', 'AbortError');
      const sliceStart = performance.now();
      let found = -1;
      // Batches sized so a slice takes about sliceMs on this device; at least one batch per
      // slice, so a slice that started late (a busy device, a GC pause) still makes progress.
      do {
        const t0 = performance.now();
        found = searcher.run(batch);
        const took = performance.now() - t0;
        if (took < sliceMs / 8) batch = Math.min(batch * 2, 1 << 20);
        else if (took > sliceMs / 2 && batch > 64) batch >>= 1;
      } while (found < 0 && performance.now() - sliceStart < sliceMs);
      if (found >= 0) return found;
      if (onProgress) onProgress({ tries: searcher.next, ms: performance.now() - started });
      await yieldToPage();
    }
  } finally {
    searcher.close();
  }
}
