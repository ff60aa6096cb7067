// Size hiding (docs/PROTOCOL.md, "Padding"; crypto/padding.py): messages are padded to fixed
// buckets with ISO/IEC 7816-4 padding, attachments to bucketed chunk counts.
import { ProtocolError } from './errors.js';

// 1 KiB, 4 KiB, 16 KiB, 64 KiB, 256 KiB, 1 MiB: every report, follow-up and reply is exactly
// one of these sizes before encryption.
export const MESSAGE_BUCKETS = [0, 1, 2, 3, 4, 5].map((k) => 1024 * 4 ** k);
export const MAX_MESSAGE = MESSAGE_BUCKETS[MESSAGE_BUCKETS.length - 1];

// Smallest bucket that holds `length` bytes plus the mandatory 0x80 marker.
export function messageBucket(length) {
  for (const bucket of MESSAGE_BUCKETS) if (length + 1 <= bucket) return bucket;
  throw new ProtocolError('too_large', `a message may hold at most ${MAX_MESSAGE - 1} bytes`);
}

// Written out rather than with sodium.pad: it is two lines, and keeps this module usable
// before libsodium has loaded. The output is sodium_pad's exactly (the vectors check it).
export function padMessage(data) {
  const padded = new Uint8Array(messageBucket(data.length));
  padded.set(data);
  padded[data.length] = 0x80;
  return padded;
}

export function unpadMessage(padded) {
  if (!MESSAGE_BUCKETS.includes(padded.length)) {
    throw new ProtocolError('bad_padding', 'padded message is not a bucket size');
  }
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end -= 1;
  if (end < 0 || padded[end] !== 0x80) throw new ProtocolError('bad_padding', 'padding is malformed');
  return padded.slice(0, end);
}

// Round a chunk count up to 2^k or 3·2^(k-1): 1, 2, 3, 4, 6, 8, 12, 16, 24 …
// At most 50 % overhead; an observer learns about 1.6 bits per doubling of size.
export function chunkCountBucket(chunks) {
  if (!Number.isSafeInteger(chunks) || chunks < 1) {
    throw new ProtocolError('bad_length', 'an attachment has at least one chunk');
  }
  let power = 1;
  for (;;) {
    if (chunks <= power) return power;
    if (power >= 2 && chunks <= power + power / 2) return power + power / 2;
    power *= 2;
  }
}

export function isChunkCountBucket(chunks) {
  return Number.isSafeInteger(chunks) && chunks >= 1 && chunkCountBucket(chunks) === chunks;
}

