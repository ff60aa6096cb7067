// Encrypts one file chunk by chunk and uploads each chunk as it is made, so even a
// large file is never held whole in memory. Returns the descriptor that goes, encrypted,
// into the report or follow-up.

import { request } from './api.js';
import { AttachmentSealer, CHUNK_PLAINTEXT } from '../attachment.js';
import { b64encode } from '../encoding.js';

export async function uploadFile(file, onProgress) {
  const sealer = new AttachmentSealer(file.size);
  const { chunks, key, header } = sealer.params;
  const { upload_id: uploadId } = await request('POST', '/api/v1/uploads', { json: { chunks } });
  for (let index = 0; index < chunks; index += 1) {
    const start = index * CHUNK_PLAINTEXT;
    const plain = start < file.size
      ? new Uint8Array(await file.slice(start, start + CHUNK_PLAINTEXT).arrayBuffer())
      : new Uint8Array(0);
    const sealed = sealer.sealChunk(plain);
    await request('PUT', `/api/v1/uploads/${uploadId}/chunks/${index}`, { body: sealed });
    onProgress((index + 1) / chunks);
  }
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

export async function uploadAll(files, onFileProgress) {
  const descriptors = [];
  for (const file of files) {
    descriptors.push(await uploadFile(file, (fraction) => onFileProgress(file, fraction)));
  }
  return descriptors;
}
