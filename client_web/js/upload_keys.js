// Resumable attachments (docs/PROTOCOL.md, "Resumable attachments"; crypto/upload.py): what an
// interrupted upload needs is derived again from the case key and the file itself, so the
// page stores nothing on the device.
//
//   fileHash    = BLAKE2b-32(every byte of the file, key="quietline/file/v1")   (a stream)
//   uploadRoot  = crypto_kdf_derive_from_key(32, 4, "QLcase01", root)
//   resume      = BLAKE2b-32("quietline/upload-resume/v1" || fileHash, key=uploadRoot)
//   streamKey   = BLAKE2b-32("quietline/upload-key/v1" || fileHash, key=uploadRoot)
//   resumeIndex = hex(BLAKE2b-16(resume, key="quietline/upload-resume-index/v1"))
//
// `resume` goes to the server (POST bodies only); the server keeps only resumeIndex(resume).
// `streamKey` never leaves the page except inside the encrypted attachment descriptor.
import { ProtocolError } from './errors.js';
import { concat, toHex, utf8 } from './bytes.js';
import { kdfDerive } from './kdf.js';
import { getSodium } from './sodium.js';

const ROOT_LABEL = utf8('quietline/case-root/v1');
const FILE_LABEL = utf8('quietline/file/v1');
const RESUME_LABEL = utf8('quietline/upload-resume/v1');
const STREAM_KEY_LABEL = utf8('quietline/upload-key/v1');
const RESUME_INDEX_LABEL = utf8('quietline/upload-resume-index/v1');
const KDF_CONTEXT = 'QLcase01';
const UPLOAD_ID = 4; // after lookup (1), reply (2) and signing (3)
export const RESUME_BYTES = 32;
// How much of a file is read at a time while hashing: one attachment chunk's plaintext.
export const HASH_PIECE_BYTES = 256 * 1024;

function check(value, length, what) {
  if (!(value instanceof Uint8Array) || value.length !== length) {
    throw new ProtocolError('bad_length', `${what} has ${length} bytes`);
  }
}

// The case's root for uploads, from the 16-byte case key.
export function uploadRoot(caseKey) {
  check(caseKey, 16, 'a case key');
  const root = getSodium().crypto_generichash(32, caseKey, ROOT_LABEL);
  return kdfDerive(root, UPLOAD_ID, KDF_CONTEXT);
}

// Keyed BLAKE2b-32 over a file given piece by piece (crypto_generichash init/update/final),
// so a large file is never held whole. digest() may be called once.
export class FileHasher {
  constructor() {
    this._state = getSodium().crypto_generichash_init(FILE_LABEL, 32);
    this._done = false;
  }

  update(piece) {
    if (this._done) throw new ProtocolError('bad_length', 'the file hash is already final');
    if (!(piece instanceof Uint8Array)) throw new TypeError('a piece of a file is a Uint8Array');
    getSodium().crypto_generichash_update(this._state, piece);
  }

  digest() {
    if (this._done) throw new ProtocolError('bad_length', 'the file hash is already final');
    this._done = true;
    return getSodium().crypto_generichash_final(this._state, 32);
  }
}

// fileHash over consecutive pieces (Uint8Arrays of any sizes; an iterable).
export function fileHash(pieces) {
  const hasher = new FileHasher();
  for (const piece of pieces) hasher.update(piece);
  return hasher.digest();
}

// fileHash of a File or Blob, read HASH_PIECE_BYTES at a time. `onProgress(bytesRead, size)`
// is called after each piece; `signal` (an AbortSignal) stops it with an AbortError.
export async function fileHashOfBlob(blob, { onProgress = null, signal = null, pieceBytes = HASH_PIECE_BYTES } = {}) {
  const hasher = new FileHasher();
  const size = blob.size;
  for (let offset = 0; offset < size; offset += pieceBytes) {
    if (signal && signal.aborted) throw new DOMException('aborted', 'AbortError');
    const end = Math.min(size, offset + pieceBytes);
    const piece = new Uint8Array(await blob.slice(offset, end).arrayBuffer());
    // A file that changes while it is read would give a hash of neither version.
    if (piece.length !== end - offset) throw new ProtocolError('bad_length', 'the file changed while it was read');
    hasher.update(piece);
    if (onProgress) onProgress(end, size);
  }
  return hasher.digest();
}

// The handle the page sends to find its unfiled upload again (`root` = uploadRoot(caseKey)).
export function resume(root, digest) {
  check(root, 32, 'uploadRoot');
  check(digest, 32, 'a file hash');
  return getSodium().crypto_generichash(32, concat(RESUME_LABEL, digest), root);
}

// The attachment stream's key (AttachmentSealer(size, streamKey) or, resuming,
// AttachmentSealer(size, streamKey, header)).
export function streamKey(root, digest) {
  check(root, 32, 'uploadRoot');
  check(digest, 32, 'a file hash');
  return getSodium().crypto_generichash(32, concat(STREAM_KEY_LABEL, digest), root);
}

// What the server stores for `resume` (32 hex characters); the page never needs it, but the
// vectors check it on both sides.
export function resumeIndex(handle) {
  check(handle, RESUME_BYTES, 'a resume handle');
  return toHex(getSodium().crypto_generichash(16, handle, RESUME_INDEX_LABEL));
}

// Both values for one file of one case: {resume, streamKey}.
export function uploadKeys(caseKey, digest) {
  const root = uploadRoot(caseKey);
  return { resume: resume(root, digest), streamKey: streamKey(root, digest) };
}
