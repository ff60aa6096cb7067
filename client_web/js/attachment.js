// Attachment streams (docs/PROTOCOL.md, "Attachment stream"; crypto/attachment.py):
// secretstream XChaCha20-Poly1305 over fixed 256 KiB chunks, padded to a bucketed chunk
// count, so the page encrypts a file slice by slice and never holds it whole, and the server
// sees only equal-sized chunks.
import { ProtocolError } from './errors.js';
import { chunkCountBucket, isChunkCountBucket } from './padding.js';
import { getSodium } from './sodium.js';

export const CHUNK_PLAINTEXT = 256 * 1024;
export const ABYTES = 17; // crypto_secretstream_xchacha20poly1305_ABYTES
export const CHUNK_CIPHERTEXT = CHUNK_PLAINTEXT + ABYTES;
export const HEADER_BYTES = 24;
export const KEY_BYTES = 32;
const TAG_MESSAGE = 0;
const TAG_FINAL = 3;

export function chunksForSize(size) {
  if (!Number.isSafeInteger(size) || size < 0) throw new ProtocolError('bad_length', 'negative attachment size');
  return chunkCountBucket(Math.max(1, Math.ceil(size / CHUNK_PLAINTEXT)));
}

// Encrypts one file chunk by chunk, in order. `params` ({key, header, size, chunks}) goes
// into the encrypted attachment descriptor; only the chunks go to the server.
// new AttachmentSealer(size) or (size, key): a fresh stream with a random header.
// new AttachmentSealer(size, key, header): the same stream again from its first chunk, to
// resume an upload (docs/PROTOCOL.md, "Resumable attachments"): init_pull yields the state
// init_push had, so every chunk comes out byte for byte as the first time.
export class AttachmentSealer {
  constructor(size, key = null, header = null) {
    const sodium = getSodium();
    const chunks = chunksForSize(size);
    if (header === null) {
      key = key ?? sodium.crypto_secretstream_xchacha20poly1305_keygen();
      if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
        throw new ProtocolError('bad_length', 'an attachment key has 32 bytes');
      }
      const pushed = sodium.crypto_secretstream_xchacha20poly1305_init_push(key);
      this._state = pushed.state;
      header = pushed.header;
    } else {
      if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES
        || !(header instanceof Uint8Array) || header.length !== HEADER_BYTES) {
        throw new ProtocolError('bad_length', 'resuming needs a 32-byte key and a 24-byte header');
      }
      key = key.slice();
      header = header.slice();
      this._state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(header, key);
    }
    this.params = { key, header, size, chunks };
    this._next = 0;
  }

  // `data`: the next CHUNK_PLAINTEXT bytes of the file (shorter at its end, empty after),
  // exactly as many as the declared size implies: a file that changed while it was read
  // would otherwise give a stream the desk cannot open.
  sealChunk(data) {
    const { size, chunks } = this.params;
    if (this._next >= chunks) throw new ProtocolError('too_many_chunks', 'the stream is already final');
    const expected = Math.max(0, Math.min(CHUNK_PLAINTEXT, size - this._next * CHUNK_PLAINTEXT));
    if (data.length !== expected) {
      throw new ProtocolError('bad_length', `chunk ${this._next} has ${data.length} bytes, expected ${expected}`);
    }
    this._next += 1;
    const tag = this._next === chunks ? TAG_FINAL : TAG_MESSAGE;
    const padded = new Uint8Array(CHUNK_PLAINTEXT); // zero padding up to the chunk size
    padded.set(data);
    return getSodium().crypto_secretstream_xchacha20poly1305_push(this._state, padded, null, tag);
  }
}

// Decrypts chunks in order; refuses reordering, truncation, extension and hidden data in
// the padding. The page never opens attachments; this exists for the shared vectors.
export class AttachmentOpener {
  constructor(params) {
    if (params.key.length !== KEY_BYTES || params.header.length !== HEADER_BYTES) {
      throw new ProtocolError('bad_length', 'attachment key or header has the wrong length');
    }
    if (!isChunkCountBucket(params.chunks) || chunksForSize(params.size) !== params.chunks) {
      throw new ProtocolError('bad_attachment', 'attachment size and chunk count disagree');
    }
    this.params = params;
    try {
      this._state = getSodium().crypto_secretstream_xchacha20poly1305_init_pull(params.header, params.key);
    } catch {
      throw new ProtocolError('decryption_failed', 'attachment header is invalid');
    }
    this._index = 0;
    this._remaining = params.size;
    this.finished = false;
  }

  openChunk(ciphertext) {
    if (this.finished) throw new ProtocolError('too_many_chunks', 'data after the final chunk');
    if (ciphertext.length !== CHUNK_CIPHERTEXT) throw new ProtocolError('truncated', 'attachment chunk has the wrong size');
    let result = false;
    try {
      result = getSodium().crypto_secretstream_xchacha20poly1305_pull(this._state, ciphertext, null);
    } catch {
      result = false;
    }
    // libsodium.js returns false (rather than throwing) when a chunk fails authentication.
    if (!result) throw new ProtocolError('decryption_failed', `attachment chunk ${this._index} failed authentication`);
    this._index += 1;
    const last = this._index === this.params.chunks;
    if ((result.tag === TAG_FINAL) !== last) throw new ProtocolError('truncated', 'attachment stream ends at the wrong chunk');
    const keep = Math.min(this._remaining, CHUNK_PLAINTEXT);
    if (result.message.subarray(keep).some((byte) => byte !== 0)) {
      throw new ProtocolError('bad_padding', 'attachment padding is not zero');
    }
    this._remaining -= keep;
    this.finished = last;
    return result.message.slice(0, keep);
  }

  finish() {
    if (!this.finished) throw new ProtocolError('truncated', 'attachment stream is incomplete');
  }
}

export function openBytes(params, ciphertext) {
  const opener = new AttachmentOpener(params);
  if (ciphertext.length !== params.chunks * CHUNK_CIPHERTEXT) {
    throw new ProtocolError('truncated', 'attachment has the wrong total size');
  }
  const out = new Uint8Array(params.size);
  for (let i = 0; i < params.chunks; i += 1) {
    const plain = opener.openChunk(ciphertext.subarray(i * CHUNK_CIPHERTEXT, (i + 1) * CHUNK_CIPHERTEXT));
    out.set(plain, Math.min(i * CHUNK_PLAINTEXT, params.size));
  }
  opener.finish();
  return out;
}
