// Resumable attachment uploads (docs/PROTOCOL.md, "Resumable attachments"; docs/API.md).
//
// For each file: one pass reads it to compute its hash ("checking the file"); the resume
// handle and the stream key follow from the case and that hash. The page asks the server
// whether an unfinished upload has this handle: if so it restarts the same stream from the
// header the server kept and sends only the chunks the server lacks; if not it creates the
// upload. The file is read with File.slice one 256 KiB chunk at a time, encrypted and sent,
// so even a file of hundreds of MB is never held whole in memory. Nothing is stored on the
// device: after a reload, the same case key and the same file find the upload again.
//
// Every request goes through `net` (retry.js): a dropped connection is retried with backoff
// and, after a failure, the page asks the server which chunks it holds before sending again.

import { ApiError } from './api.js';
import { once, requestWithin } from './retry.js';
import { AttachmentSealer, CHUNK_PLAINTEXT, chunksForSize } from '../attachment.js';
import { b64decode, b64encode } from '../encoding.js';
import { fileHashOfBlob, resume as resumeHandle, streamKey as deriveStreamKey } from '../upload_keys.js';

// The server's max_chunks (server/settings.py): 4096 chunks of 256 KiB, 1 GiB per file.
export const MAX_CHUNKS = 4096;
export const MAX_FILE_BYTES = MAX_CHUNKS * CHUNK_PLAINTEXT;
// The server's max_uploads_per_envelope: files in one report or follow-up.
export const MAX_FILES = 20;

// How long one request may take before it counts as a dropped connection. A chunk is
// 256 KiB: about two minutes at 20 kbit/s, so five minutes is generous even on 2G.
const JSON_DEADLINE_MS = 90_000;
const CHUNK_DEADLINE_MS = 300_000;
// Chunks sent at once (each 256 KiB, held until the server has it).
const WINDOW = 3;

export function tooLargeFiles(files) {
  return [...files].filter((file) => chunksForSize(file.size) > MAX_CHUNKS);
}

function call(method, path, { json, body, deadline = JSON_DEADLINE_MS } = {}) {
  return requestWithin(deadline, method, path, { json, body });
}

class ReadError extends Error {
  constructor() {
    super('file_unreadable');
    this.code = 'file_unreadable';
  }
}

async function readChunk(file, index) {
  const start = index * CHUNK_PLAINTEXT;
  if (start >= file.size) return new Uint8Array(0); // padding chunks past the end
  try {
    return new Uint8Array(await file.slice(start, start + CHUNK_PLAINTEXT).arrayBuffer());
  } catch {
    throw new ReadError(); // the file was moved, changed or is on a removed card
  }
}

async function hashFile(file, onBytes) {
  try {
    return await fileHashOfBlob(file, { onProgress: (done) => onBytes(done) });
  } catch (error) {
    if (error && error.code) throw error;
    throw new ReadError();
  }
}

// The unfiled upload with this handle, or null.
async function findUpload(resume, net) {
  try {
    return await net(() => call('POST', '/api/v1/uploads/resume', { json: { resume } }));
  } catch (error) {
    if (error && error.code === 'unknown_upload') return null;
    throw error;
  }
}

// Uploads one file (`index` is its place in the list, for the tracker) and returns its
// attachment descriptor (docs/PROTOCOL.md, "Envelope"), which goes only inside an envelope.
export async function uploadFile(file, { uploadRoot, net = once, tracker, index = 0 }) {
  tracker.checking(index, 0);
  const digest = await hashFile(file, (done) => tracker.checking(index, done));
  const handle = resumeHandle(uploadRoot, digest);
  const resume = b64encode(handle);
  const key = deriveStreamKey(uploadRoot, digest);
  const chunks = chunksForSize(file.size);

  let found = await findUpload(resume, net);
  let sealer;
  if (!found) {
    sealer = new AttachmentSealer(file.size, key);
    // Paid for with a proof of work bound to the resume handle (ui/proof.js, loaded when a flow starts).
    const proof = await import('./proof.js');
    const payment = new proof.Payment('upload', proof.uploadBinding(handle), {
      working: () => tracker.proving && tracker.proving(index),
      done: () => tracker.proved && tracker.proved(index),
    });
    try {
      const json = { chunks, resume, header: b64encode(sealer.params.header) };
      const created = await net(() => payment.post('/api/v1/uploads', json));
      found = { upload_id: created.upload_id, chunks: created.chunks, received: [] };
    } catch (error) {
      // Made by an earlier attempt whose answer was lost, or by another tab: continue that one.
      if (!error || error.code !== 'upload_exists') throw error;
      found = await findUpload(resume, net);
      if (!found) throw error;
      sealer = null;
    }
  }
  if (found.chunks !== chunks) throw new ApiError('bad_chunk_count', 400);
  if (!sealer) sealer = new AttachmentSealer(file.size, key, b64decode(found.header, { field: 'header', length: 24 }));
  const uploadId = found.upload_id;
  const received = new Set(found.received);
  tracker.sending(index, received.size, chunks, received.size);

  // Up to WINDOW chunks travel at once, so a slow round trip (Tor, satellite) is not paid
  // once per chunk; each is retried on its own. Sealing stays in order: the stream's state
  // moves with every chunk, and the stream is re-made from its first chunk even when
  // resuming.
  const inFlight = new Set();
  let failed = null;
  const send = async (i, sealed) => {
    await net(async (afterFailure) => {
      if (afterFailure) {
        // Back after a drop: the chunk may have arrived before the connection went.
        const state = await call('GET', `/api/v1/uploads/${uploadId}`);
        for (const held of state.received) received.add(held);
        if (received.has(i)) return;
      }
      await call('PUT', `/api/v1/uploads/${uploadId}/chunks/${i}`, { body: sealed, deadline: CHUNK_DEADLINE_MS });
    });
    received.add(i);
    tracker.sending(index, received.size, chunks);
  };
  for (let i = 0; i < chunks && !failed; i += 1) {
    const sealed = sealer.sealChunk(await readChunk(file, i));
    if (received.has(i)) continue;
    const task = send(i, sealed).catch((error) => { failed = failed || error; }).finally(() => inFlight.delete(task));
    inFlight.add(task);
    if (inFlight.size >= WINDOW) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (failed) throw failed;
  tracker.sent(index);
  const { header } = sealer.params;
  return {
    upload_id: uploadId,
    name: file.name,
    type: file.type || 'application/octet-stream',
    size: file.size,
    key: b64encode(key),
    header: b64encode(header),
    chunks,
  };
}

// The entry point: File objects in, descriptors out, one file after another.
export async function uploadFiles(files, { uploadRoot, net = once, tracker }) {
  const descriptors = [];
  let index = 0;
  for (const file of files) {
    descriptors.push(await uploadFile(file, { uploadRoot, net, tracker, index }));
    index += 1;
  }
  return descriptors;
}
