// Runs every shared vector (tests/vectors/*.json, made by generate.py) against client_web/js/.
//
// The modules are passed in rather than imported, so the same runner serves the browser
// (page.evaluate imports /js/*.js under the real CSP) and Node (run_node.mjs). It returns
// {counts, failures}: counts["file/section"] is how many items of each list in each file were
// checked, which the Python side compares with the section lengths so that nothing is skipped.

export const FILES = ['encoding', 'casekey', 'kdf', 'padding', 'signing', 'manifest', 'envelope', 'attachment', 'reply',
  'report', 'upload', 'pow'];

export async function fetchVectors(base) {
  const vectors = {};
  for (const name of FILES) {
    const response = await fetch(`${base}${name}.json`);
    if (!response.ok) throw new Error(`${name}.json: HTTP ${response.status}`);
    vectors[name] = await response.json();
  }
  return vectors;
}

// Vector data is decoded with the platform's own decoders, not with the code under test.
function fromB64(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) out[i] = raw.charCodeAt(i);
  return out;
}

function fromHex(text) {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i += 1) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function pattern(length) {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i += 1) out[i] = (31 * i + 7) & 255;
  return out;
}

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}

function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
}

const show = (value) => {
  try {
    return JSON.stringify(value).slice(0, 200);
  } catch {
    return String(value);
  }
};

export function runVectors(m, vectors) {
  const counts = {};
  const failures = [];
  const { ProtocolError } = m.errors;
  const sodium = m.sodium.getSodium();

  const fail = (where, message) => failures.push(`${where}: ${message}`);
  const check = (where, ok, message) => {
    if (!ok) fail(where, message);
  };
  const equalValue = (where, got, want) => check(where, deepEqual(got, want), `got ${show(got)}, want ${show(want)}`);
  const expectCode = (where, fn, code) => {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof ProtocolError)) fail(where, `threw ${err && err.stack ? err.stack : err}, want ${code}`);
      else if (err.code !== code) fail(where, `refused with ${err.code}, want ${code}`);
      return;
    }
    fail(where, `accepted, want ${code}`);
  };
  // Each item runs on its own: an unexpected exception is a failure, not the end of the run.
  const each = (file, section, fn) => {
    const items = vectors[file][section];
    if (!Array.isArray(items)) {
      fail(`${file}/${section}`, 'missing section');
      return;
    }
    items.forEach((item, i) => {
      const where = `${file}/${section}[${i}]${item && item.label ? ` (${item.label})` : ''}`;
      try {
        fn(item, where);
      } catch (err) {
        fail(where, err instanceof ProtocolError ? `unexpected refusal ${err.message}` : `unexpected ${err && err.stack ? err.stack : err}`);
      }
    });
    counts[`${file}/${section}`] = items.length;
  };

  // ---------------------------------------------------------------- encoding
  const { b64decode, b64encode, jsonBytes, jsonLoad } = m.encoding;
  each('encoding', 'json', (v, w) => check(w, hex(jsonBytes(v.value)) === v.bytes_hex, `got ${hex(jsonBytes(v.value))}`));
  each('encoding', 'json_errors', (v, w) => expectCode(w, () => jsonBytes(v.value), v.code));
  each('encoding', 'json_load', (v, w) => equalValue(w, jsonLoad(fromHex(v.bytes_hex)), v.value));
  each('encoding', 'json_load_errors', (v, w) => expectCode(w, () => jsonLoad(fromHex(v.bytes_hex)), v.code));
  each('encoding', 'base64', (v, w) => {
    check(w, b64encode(fromHex(v.bytes_hex)) === v.text, `encoded as ${b64encode(fromHex(v.bytes_hex))}`);
    check(w, hex(b64decode(v.text)) === v.bytes_hex, 'decoded wrongly');
  });
  each('encoding', 'base64_errors', (v, w) => expectCode(w, () => b64decode(v.text), v.code));
  each('encoding', 'base64_length_errors', (v, w) => expectCode(w, () => b64decode(v.text, { length: v.length }), v.code));

  // ---------------------------------------------------------------- case key
  const casekey = m.casekey;
  each('casekey', 'encode', (v, w) => {
    check(w, casekey.encode(fromHex(v.key_hex)) === v.text, `encoded as ${casekey.encode(fromHex(v.key_hex))}`);
    check(w, hex(casekey.parse(v.text)) === v.key_hex, 'parsed wrongly');
  });
  each('casekey', 'encode_errors', (v, w) => expectCode(w, () => casekey.encode(fromHex(v.key_hex)), v.code));
  each('casekey', 'parse', (v, w) => {
    check(w, casekey.normalize(v.input) === v.normalized, `normalized to ${casekey.normalize(v.input)}`);
    check(w, hex(casekey.parse(v.input)) === v.key_hex, 'parsed wrongly');
  });
  each('casekey', 'normalize_errors', (v, w) => expectCode(w, () => casekey.normalize(v.input), v.code));
  each('casekey', 'parse_errors', (v, w) => expectCode(w, () => casekey.parse(v.input), v.code));
  for (let i = 0; i < 50; i += 1) {
    const key = casekey.generate();
    check('casekey/generate', key.length === 16 && sameBytes(casekey.parse(casekey.encode(key)), key), 'round trip failed');
  }

  // ---------------------------------------------------------------- kdf
  const kdf = m.kdf;
  each('kdf', 'cases', (v, w) => {
    const key = fromHex(v.case_key_hex);
    check(w, sameBytes(casekey.parse(v.case_key_text), key), 'case key text does not parse to the key');
    const keys = kdf.deriveCaseKeys(key);
    check(w, hex(keys.lookup) === v.lookup_hex, 'lookup');
    check(w, hex(keys.replyPublic) === v.reply_public_hex, 'reply public key');
    check(w, hex(keys.replySecret) === v.reply_secret_hex, 'reply secret key');
    check(w, hex(keys.signPublic) === v.sign_public_hex, 'sign public key');
    check(w, hex(keys.signSecret) === v.sign_secret_hex, 'sign secret key');
    check(w, kdf.caseId(keys.lookup) === v.case_id, `case id ${kdf.caseId(keys.lookup)}`);
  });
  each('kdf', 'kdf_derive', (v, w) => {
    const got = hex(kdf.kdfDerive(fromHex(v.master_hex), v.subkey_id, v.context, v.length));
    check(w, got === v.subkey_hex, `got ${got}`);
  });
  each('kdf', 'errors', (v, w) => {
    const fn = { derive_case_keys: kdf.deriveCaseKeys, case_id: kdf.caseId }[v.function];
    expectCode(w, () => fn(fromHex(v.input_hex)), v.code);
  });

  // ---------------------------------------------------------------- padding
  const padding = m.padding;
  each('padding', 'messages', (v, w) => {
    const data = pattern(v.length);
    const padded = padding.padMessage(data);
    check(w, padded.length === v.bucket && padding.messageBucket(v.length) === v.bucket, `bucket ${padded.length}`);
    check(w, hex(sodium.crypto_generichash(32, padded, null)) === v.padded_blake2b_hex, 'padded bytes differ');
    if (v.padded_hex !== undefined) check(w, hex(padded) === v.padded_hex, 'padded bytes differ');
    check(w, sameBytes(padding.unpadMessage(padded), data), 'unpad did not give the data back');
  });
  each('padding', 'too_large', (v, w) => {
    expectCode(w, () => padding.messageBucket(v.length), v.code);
    expectCode(w, () => padding.padMessage(new Uint8Array(v.length)), v.code);
  });
  each('padding', 'unpad_ok', (v, w) => check(w, hex(padding.unpadMessage(fromHex(v.padded_hex))) === v.data_hex, 'wrong data'));
  each('padding', 'unpad_errors', (v, w) => expectCode(w, () => padding.unpadMessage(fromHex(v.padded_hex)), v.code));
  each('padding', 'chunk_counts', ([n, bucket], w) => check(w, padding.chunkCountBucket(n) === bucket, `${n} -> ${padding.chunkCountBucket(n)}`));
  each('padding', 'chunk_count_errors', (v, w) => expectCode(w, () => padding.chunkCountBucket(v.chunks), v.code));
  each('padding', 'is_chunk_count_bucket', ([n, is], w) => check(w, padding.isChunkCountBucket(n) === is, `${n}`));

  // ---------------------------------------------------------------- signing
  const signing = m.signing;
  const signVectors = vectors.signing;
  const pair = sodium.crypto_sign_seed_keypair(fromHex(signVectors.seed_hex));
  check('signing/key', hex(pair.publicKey) === signVectors.public_hex && hex(pair.privateKey) === signVectors.secret_hex,
    'seed gives other keys');
  each('signing', 'signatures', (v, w) => {
    const data = fromHex(v.data_hex);
    const sig = signing.sign(v.purpose, data, fromHex(signVectors.secret_hex));
    check(w, hex(sig) === v.signature_hex, 'signature differs');
    signing.verify(v.purpose, data, fromHex(v.signature_hex), fromHex(signVectors.public_hex));
  });
  each('signing', 'verify_errors', (v, w) => expectCode(
    w, () => signing.verify(v.purpose, fromHex(v.data_hex), fromHex(v.signature_hex), fromHex(v.public_hex)), v.code,
  ));

  // ---------------------------------------------------------------- manifest
  const manifest = m.manifest;
  const mv = vectors.manifest;
  check('manifest/root', manifest.fingerprint(fromHex(mv.root_public_hex)) === mv.root_fingerprint, 'root fingerprint');
  const manifestView = (parsed) => ({
    org: parsed.org,
    issued: parsed.issued,
    desks: parsed.desks.map((d) => ({
      id: d.id,
      name: d.name,
      box_public_hex: hex(d.boxPublic),
      sign_public_hex: hex(d.signPublic),
      key_id_hex: hex(d.keyId),
    })),
  });
  each('manifest', 'valid', (v, w) => equalValue(w, manifestView(manifest.verifyManifest(fromB64(v.file_b64), fromHex(mv.root_public_hex))), v.expect));
  each('manifest', 'invalid', (v, w) => expectCode(
    w, () => manifest.verifyManifest(fromB64(v.file_b64), fromHex(v.root_public_hex)), v.code,
  ));
  each('manifest', 'fingerprints', (v, w) => check(w, manifest.fingerprint(fromHex(v.public_hex)) === v.fingerprint, 'differs'));
  each('manifest', 'key_ids', (v, w) => check(
    w, hex(manifest.keyId(fromHex(v.box_public_hex), fromHex(v.sign_public_hex))) === v.key_id_hex, 'differs',
  ));

  // ---------------------------------------------------------------- envelope
  const envelope = m.envelope;
  const ev = vectors.envelope;
  const envManifest = manifest.verifyManifest(fromB64(ev.manifest_b64), fromHex(ev.root_public_hex));
  check('envelope/manifest', envManifest.desks.length === 3, 'manifest should list three desks');
  each('envelope', 'desks', (v, w) => {
    check(w, hex(sodium.crypto_scalarmult_base(fromHex(v.box_secret_hex))) === v.box_public_hex, 'box key pair');
    check(w, hex(fromHex(v.sign_secret_hex).slice(32)) === v.sign_public_hex, 'sign key pair');
    check(w, hex(manifest.keyId(fromHex(v.box_public_hex), fromHex(v.sign_public_hex))) === v.key_id_hex, 'key id');
  });
  each('envelope', 'valid', (v, w) => {
    const bytes = fromB64(v.envelope_b64);
    const header = envelope.parseHeader(bytes, { expectKind: v.kind });
    check(w, header.kind === v.kind, `kind ${header.kind}`);
    check(w, header.headerLength === v.header_length, `header length ${header.headerLength}`);
    check(w, header.totalLength === bytes.length, 'total length');
    equalValue(w, header.recipients.map(hex), v.recipients_hex);
  });
  each('envelope', 'invalid', (v, w) => {
    const bytes = fromB64(v.envelope_b64);
    if (v.framing) expectCode(w, () => envelope.parseHeader(bytes), v.code);
    else envelope.parseHeader(bytes); // the refusal needs a desk key; the framing is valid
  });
  each('envelope', 'wrong_kind', (v, w) => expectCode(
    w, () => envelope.parseHeader(fromB64(v.envelope_b64), { expectKind: v.expect_kind }), v.code,
  ));

  // ---------------------------------------------------------------- attachment
  const att = m.attachment;
  const av = vectors.attachment;
  check('attachment/constants', att.CHUNK_PLAINTEXT === av.chunk_plaintext && att.CHUNK_CIPHERTEXT === av.chunk_ciphertext, 'chunk sizes');
  const CC = av.chunk_ciphertext;
  const streamParams = (s) => ({ key: fromHex(s.key_hex), header: fromHex(s.header_hex), size: s.size, chunks: s.chunks });
  const ciphertexts = av.streams.map((s) => fromB64(s.ciphertext_b64));
  each('attachment', 'chunks_for_size', ([size, chunks], w) => check(w, att.chunksForSize(size) === chunks, `${size}`));
  each('attachment', 'streams', (s, w) => {
    const ct = ciphertexts[av.streams.indexOf(s)];
    check(w, ct.length === s.chunks * CC, 'ciphertext length');
    check(w, sameBytes(att.openBytes(streamParams(s), ct), pattern(s.size)), 'openBytes gave other bytes');
    const opener = new att.AttachmentOpener(streamParams(s)); // chunk by chunk, as a reader streams it
    const parts = [];
    for (let i = 0; i < s.chunks; i += 1) parts.push(opener.openChunk(ct.slice(i * CC, (i + 1) * CC)));
    opener.finish();
    check(w, sameBytes(m.bytes.concat(...parts), pattern(s.size)), 'streamed opening gave other bytes');
  });
  each('attachment', 'tampered', (t, w) => {
    let params = streamParams(av.streams[t.stream]);
    let data = ciphertexts[t.stream].slice();
    for (const op of t.ops) {
      if ('flip' in op) data[op.flip] ^= 1;
      else if ('swap_chunks' in op) {
        const [a, b] = op.swap_chunks;
        const ca = data.slice(a * CC, (a + 1) * CC);
        data.set(data.slice(b * CC, (b + 1) * CC), a * CC);
        data.set(ca, b * CC);
      } else if ('truncate' in op) data = data.slice(0, data.length - op.truncate);
      else if ('duplicate_chunk' in op) {
        const i = op.duplicate_chunk;
        data = m.bytes.concat(data.slice(0, (i + 1) * CC), data.slice(i * CC, (i + 1) * CC), data.slice((i + 1) * CC));
      } else if ('append_zeros' in op) data = m.bytes.concat(data, new Uint8Array(op.append_zeros));
      else if ('params' in op) {
        const q = op.params;
        params = { ...params };
        if ('header_flip' in q) {
          params.header = params.header.slice();
          params.header[q.header_flip] ^= 1;
        }
        if ('header_hex' in q) params.header = fromHex(q.header_hex);
        if ('key_hex' in q) params.key = fromHex(q.key_hex);
        if ('size' in q) params.size = q.size;
        if ('chunks' in q) params.chunks = q.chunks;
      } else throw new Error(`unknown op ${show(op)}`);
    }
    expectCode(w, () => att.openBytes(params, data), t.code);
  });
  each('attachment', 'streaming_errors', (t, w) => expectCode(w, () => {
    const data = m.bytes.concat(ciphertexts[t.stream], new Uint8Array(CC));
    const opener = new att.AttachmentOpener(streamParams(av.streams[t.stream]));
    for (const [start, length] of t.feed) opener.openChunk(data.slice(start, start + length));
    if (t.finish) opener.finish();
  }, t.code));
  each('attachment', 'sealer_errors', (t, w) => expectCode(w, () => {
    const sealer = new att.AttachmentSealer(t.size);
    for (const n of t.feed) sealer.sealChunk(pattern(n));
  }, t.code));

  // ---------------------------------------------------------------- reply
  const reply = m.reply;
  const rv = vectors.reply;
  const replyManifest = manifest.verifyManifest(fromB64(rv.manifest_b64), fromHex(rv.root_public_hex));
  const cases = {};
  for (const [name, c] of Object.entries(rv.cases)) {
    const keys = kdf.deriveCaseKeys(casekey.parse(c.case_key_text));
    cases[name] = { keys, caseId: kdf.caseId(keys.lookup) };
    check(`reply/cases/${name}`, cases[name].caseId === c.case_id, 'case id');
  }
  const open = (v) => {
    const c = cases[v.case];
    return reply.openReply(fromB64(v.blob_b64), replyManifest, c.keys.replyPublic, c.keys.replySecret, c.caseId);
  };
  const replyView = (e) => ({ caseId: e.case_id, seq: e.seq, status: e.status, text: e.text, day: e.day, desk: e.desk,
    notice: e.notice ?? null });
  each('reply', 'valid', (v, w) => equalValue(w, open(v), replyView(v.expect)));
  each('reply', 'invalid', (v, w) => expectCode(w, () => open(v), v.code));
  each('reply', 'notice_valid', (v, w) => equalValue(w, open(v), replyView(v.expect)));
  each('reply', 'notice_invalid', (v, w) => expectCode(w, () => open(v), v.code));
  each('reply', 'served', (v, w) => {
    const c = cases[v.case];
    const served = v.served.map((e) => ({ seq: e.seq, blob: fromB64(e.blob_b64) }));
    const outcomes = reply.openReplies(served, replyManifest, c.keys.replyPublic, c.keys.replySecret, c.caseId);
    equalValue(w, outcomes.map((o) => (o instanceof ProtocolError ? { code: o.code } : { seq: o.seq })), v.expect);
  });

  // ---------------------------------------------------------------- report schema
  const schema = m.report_schema;
  const expectRefusal = (where, fn, code, path) => {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof ProtocolError)) fail(where, `threw ${err && err.stack ? err.stack : err}, want ${code}`);
      else if (err.code !== code || err.path !== path) {
        fail(where, `refused with ${err.code} at ${show(err.path)}, want ${code} at ${show(path)}`);
      }
      return;
    }
    fail(where, `accepted, want ${code} at ${show(path)}`);
  };
  // Frozen all the way down, so the page cannot change a checked report or a taxonomy.
  const deepFrozen = (value) => value === null || typeof value !== 'object'
    || (Object.isFrozen(value) && Object.values(value).every(deepFrozen));
  each('report', 'taxonomy', (v, w) => {
    equalValue(w, schema[v.name], v.values);
    check(w, Object.isFrozen(schema[v.name]), 'not frozen');
  });
  each('report', 'constants', (v, w) => check(w, schema[v.name] === v.value, `${v.name} is ${show(schema[v.name])}`));
  each('report', 'valid', (v, w) => {
    const parsed = schema.parseReport(v.value);
    equalValue(w, parsed, v.expect);
    check(w, deepFrozen(parsed), 'parsed report is not frozen');
  });
  each('report', 'invalid', (v, w) => expectRefusal(w, () => schema.parseReport(v.value), v.code, v.path));
  each('report', 'followup_valid', (v, w) => {
    const parsed = schema.parseFollowupUpdate(v.body);
    equalValue(w, parsed, v.expect);
    check(w, deepFrozen(parsed), 'parsed follow-up is not frozen');
  });
  each('report', 'followup_invalid', (v, w) => expectRefusal(w, () => schema.parseFollowupUpdate(v.body), v.code, v.path));
  // What JSON cannot express but a page could: fields come from own properties only, so a
  // polluted Object.prototype supplies none, and an object without a prototype is an object.
  Object.defineProperty(Object.prototype, 'country', { value: 'FR', configurable: true, writable: true });
  try {
    expectRefusal('report/prototype', () => schema.parseReport({ schema: schema.SCHEMA }), 'bad_report', 'country');
  } finally {
    delete Object.prototype.country;
  }
  const bare = Object.assign(Object.create(null), { schema: schema.SCHEMA, country: 'FR', consent: { use_name: 'no' } });
  check('report/null-prototype', schema.parseReport(bare).consent.use_name === 'no', 'refused or misread');

  // ---------------------------------------------------------------- resumable uploads
  const up = m.upload_keys;
  const uv = vectors.upload;
  const uploadContent = (size, flip) => {
    const data = pattern(size);
    if (flip !== undefined) data[flip] ^= 1;
    return data;
  };
  const sealAll = (sealer, data, from = 0) => {
    const C = att.CHUNK_PLAINTEXT;
    const out = [];
    for (let i = from; i < sealer.params.chunks; i += 1) {
      out.push(sealer.sealChunk(data.subarray(Math.min(i * C, data.length), Math.min((i + 1) * C, data.length))));
    }
    return out;
  };
  each('upload', 'derivations', (v, w) => {
    const key = fromHex(v.case_key_hex);
    check(w, sameBytes(casekey.parse(v.case_key_text), key), 'case key text does not parse to the key');
    const root = up.uploadRoot(key);
    check(w, hex(root) === v.upload_root_hex, `upload root ${hex(root)}`);
    const data = uploadContent(v.size, v.flip);
    const digest = up.fileHash([data]);
    check(w, hex(digest) === v.file_hash_hex, `file hash ${hex(digest)}`);
    const handle = up.resume(root, digest);
    check(w, hex(handle) === v.resume_hex, `resume ${hex(handle)}`);
    check(w, hex(up.streamKey(root, digest)) === v.stream_key_hex, 'stream key');
    check(w, up.resumeIndex(handle) === v.resume_index, `resume index ${up.resumeIndex(handle)}`);
    const both = up.uploadKeys(key, digest);
    check(w, hex(both.resume) === v.resume_hex && hex(both.streamKey) === v.stream_key_hex, 'uploadKeys');
  });
  each('upload', 'file_hash', (v, w) => {
    const data = pattern(v.size);
    const pieces = [];
    let at = 0;
    for (const n of v.pieces) {
      pieces.push(data.subarray(at, at + n));
      at += n;
    }
    check(w, hex(up.fileHash(pieces)) === v.file_hash_hex, 'file hash over pieces');
    const hasher = new up.FileHasher(); // the same, piece by piece
    for (const piece of pieces) hasher.update(piece);
    check(w, hex(hasher.digest()) === v.file_hash_hex, 'FileHasher');
  });
  each('upload', 'resumed_streams', (v, w) => {
    const d = uv.derivations[v.derivation];
    check(w, d.stream_key_hex === v.stream_key_hex && d.size === v.size, 'derivation does not match');
    const data = uploadContent(d.size, d.flip);
    const key = up.streamKey(up.uploadRoot(fromHex(d.case_key_hex)), up.fileHash([data]));
    check(w, hex(key) === v.stream_key_hex, 'stream key');
    // Python's stream, made again from its header: every chunk the same.
    const resumed = new att.AttachmentSealer(v.size, key, fromHex(v.header_hex));
    check(w, resumed.params.chunks === v.chunks && hex(resumed.params.header) === v.header_hex, 'params');
    const chunks = sealAll(resumed, data);
    equalValue(w, chunks.map((c) => hex(sodium.crypto_generichash(32, c, null))), v.chunk_blake2b_hex);
    const opened = att.openBytes(resumed.params, m.bytes.concat(...chunks));
    check(w, sameBytes(opened, data), 'the resumed stream does not open to the file');
    // The page's own interrupted stream: some chunks sent, then a drop, then a restart from
    // the header that the server kept; the chunks sent before and after make one stream.
    const first = new att.AttachmentSealer(v.size, key);
    const before = sealAll(first, data).slice(0, v.sent_before_drop);
    const again = new att.AttachmentSealer(v.size, key, first.params.header);
    const after = sealAll(again, data);
    check(w, before.every((c, i) => sameBytes(c, after[i])), 'restarted chunks differ from the ones sent before');
    const joined = m.bytes.concat(...before, ...after.slice(v.sent_before_drop));
    check(w, sameBytes(att.openBytes(first.params, joined), data), 'the joined stream does not open');
  });
  each('upload', 'errors', (v, w) => {
    const a = v.args;
    const fn = {
      upload_root: () => up.uploadRoot(fromHex(a.case_key_hex)),
      resume: () => up.resume(fromHex(a.root_hex), fromHex(a.digest_hex)),
      stream_key: () => up.streamKey(fromHex(a.root_hex), fromHex(a.digest_hex)),
      resume_index: () => up.resumeIndex(fromHex(a.handle_hex)),
      resume_sealer: () => new att.AttachmentSealer(a.size, fromHex(a.key_hex), fromHex(a.header_hex)),
    }[v.function];
    if (!fn) throw new Error(`unknown function ${v.function}`);
    expectCode(w, fn, v.code);
  });

  // ---------------------------------------------------------------- proof of work
  const pw = m.pow;
  const sameHex = (bytes, text) => hex(bytes) === text;
  each('pow', 'challenges', (v, w) => {
    const raw = fromHex(v.challenge_hex);
    const c = pw.parseChallenge(raw);
    check(w, c.purpose === v.purpose && c.difficulty === v.difficulty && c.expires === v.expires, `fields ${show(c)}`);
    check(w, sameHex(c.random, v.random_hex), 'random');
    // The MAC is keyed BLAKE2b-32 of the first 27 bytes (the server's; checked with the platform's sodium).
    check(w, sameHex(sodium.crypto_generichash(32, raw.subarray(0, 27), fromHex(v.key_hex)), v.challenge_hex.slice(54)), 'MAC');
  });
  each('pow', 'challenge_errors', (v, w) => expectCode(w, () => pw.parseChallenge(fromHex(v.challenge_hex)), v.code));
  each('pow', 'mac_errors', (v, w) => {
    const raw = fromHex(v.challenge_hex);
    pw.parseChallenge(raw); // well formed: only the key tells
    check(w, !sameHex(sodium.crypto_generichash(32, raw.subarray(0, 27), fromHex(v.key_hex)), v.challenge_hex.slice(54)),
      'the MAC matches, want a mismatch');
  });
  each('pow', 'bindings', (v, w) => {
    const binding = {
      [pw.REPORT]: () => pw.reportBinding(v.case_id),
      [pw.FOLLOWUP]: () => pw.followupBinding(v.case_id, pattern(v.envelope_size)),
      [pw.UPLOAD]: () => pw.uploadBinding(fromHex(v.resume_hex)),
    }[v.purpose]();
    check(w, sameHex(binding, v.binding_hex), `binding ${hex(binding)}`);
  });
  each('pow', 'binding_errors', (v, w) => {
    expectCode(w, () => pw.workHash(fromHex(v.challenge_hex), fromHex(v.binding_hex), 0), v.code);
    expectCode(`${w} (searcher)`, () => new pw.Searcher(fromHex(v.challenge_hex), fromHex(v.binding_hex)), v.code);
  });
  each('pow', 'work', (v, w) => {
    check(w, sameHex(pw.nonceBytes(v.nonce), v.nonce_le64_hex), `LE64 ${hex(pw.nonceBytes(v.nonce))}`);
    const digest = pw.workHash(fromHex(v.challenge_hex), fromHex(v.binding_hex), v.nonce);
    check(w, sameHex(digest, v.work_hex), `work ${hex(digest)}`);
    check(w, pw.leadingZeroBits(digest) === v.zero_bits, `zero bits ${pw.leadingZeroBits(digest)}`);
  });
  each('pow', 'solutions', (v, w) => {
    const c = fromHex(v.challenge_hex);
    const b = fromHex(v.binding_hex);
    check(w, pw.parseChallenge(c).difficulty === v.difficulty, 'difficulty');
    // Both searchers: libsodium called on its own memory, and through the wrapper.
    for (const direct of [true, false]) {
      const first = pw.findNonce(c, b, { direct });
      check(w, first === v.first_nonce, `first counter ${first} (direct ${direct})`);
      const following = pw.findNonce(c, b, { start: v.first_nonce + 1, direct });
      check(w, following === v.next_nonce, `next counter ${following} (direct ${direct})`);
    }
    check(w, pw.isSolution(c, b, v.first_nonce) && pw.isSolution(c, b, v.next_nonce), 'isSolution');
    check(w, v.first_nonce === 0 || !pw.isSolution(c, b, v.first_nonce - 1), 'the counter before is no solution');
    check(w, sameHex(pw.workHash(c, b, v.first_nonce), v.work_hex), 'work');
  });
  each('pow', 'nonce_errors', (v, w) => expectCode(w, () => pw.nonceBytes(v.nonce), v.code));
  each('pow', 'zero_bits', (v, w) => check(w, pw.leadingZeroBits(fromHex(v.digest_hex)) === v.bits, 'zero bits'));
  // Counters past 2^32 through the direct searcher (the high word carries over).
  {
    const s = vectors.pow.work.find((x) => x.nonce === 2 ** 32 - 1);
    const searcher = new pw.Searcher(fromHex(s.challenge_hex), fromHex(s.binding_hex), { start: 2 ** 32 - 1 });
    const bound = pw.parseChallenge(fromHex(s.challenge_hex)).difficulty;
    check('pow/direct', searcher.direct, 'libsodium was not called directly (globalThis.libsodium missing or disagreeing)');
    const found = searcher.run(2);
    searcher.close();
    const expected = [2 ** 32 - 1, 2 ** 32].find((n) => vectors.pow.work.find((x) => x.nonce === n).zero_bits >= bound);
    check('pow/carry', found === (expected === undefined ? -1 : expected), `found ${found}`);
  }

  return { counts, failures };
}

// The other direction: the page seals, Python opens (tests/vectors/test_vectors_browser.py).
// `request`: {manifest_b64, root_public_hex, case_key_text, envelopes: [{kind, body, desks}],
// attachment_sizes: [int]}. Byte strings come back as base64 (the module's own encoder).
export function sealForPython(m, request) {
  const { b64encode } = m.encoding;
  const parsed = m.manifest.verifyManifest(fromB64(request.manifest_b64), fromHex(request.root_public_hex));
  const keys = m.kdf.deriveCaseKeys(m.casekey.parse(request.case_key_text));
  const envelopes = request.envelopes.map((e) => {
    const desks = e.desks.map((id) => m.manifest.deskById(parsed, id));
    return { kind: e.kind, envelope_b64: b64encode(m.envelope.seal(e.kind, e.body, keys.signSecret, desks)) };
  });
  const attachments = request.attachment_sizes.map((size) => {
    const data = pattern(size);
    const sealer = new m.attachment.AttachmentSealer(size);
    const chunks = [];
    const C = m.attachment.CHUNK_PLAINTEXT;
    for (let i = 0; i < sealer.params.chunks; i += 1) {
      chunks.push(sealer.sealChunk(data.subarray(Math.min(i * C, size), Math.min((i + 1) * C, size))));
    }
    const p = sealer.params;
    return { size: p.size, chunks: p.chunks, key_b64: b64encode(p.key), header_b64: b64encode(p.header),
      ciphertext_b64: b64encode(m.bytes.concat(...chunks)) };
  });
  const fresh = m.casekey.generate();
  const freshKeys = m.kdf.deriveCaseKeys(fresh);
  return {
    envelopes,
    attachments,
    generated_case_key: {
      text: m.casekey.encode(fresh),
      key_b64: b64encode(fresh),
      lookup_b64: b64encode(freshKeys.lookup),
      case_id: m.kdf.caseId(freshKeys.lookup),
      reply_public_b64: b64encode(freshKeys.replyPublic),
      sign_public_b64: b64encode(freshKeys.signPublic),
    },
  };
}

// Resuming as the page does it (test_vectors_browser.py): hash a Blob in pieces, derive the
// upload's keys from the case key, seal some chunks, "drop", restart from the header, and
// return the stream the server would assemble (chunks from before the drop, then the rest),
// for Python to open. `request`: {case_key_text, size, sent_before_drop, piece_bytes}.
export async function resumeForPython(m, request) {
  const { b64encode } = m.encoding;
  const up = m.upload_keys;
  const att = m.attachment;
  const data = pattern(request.size);
  const progress = [];
  const digest = await up.fileHashOfBlob(new Blob([data]), {
    pieceBytes: request.piece_bytes, onProgress: (done, total) => progress.push([done, total]),
  });
  const caseKey = m.casekey.parse(request.case_key_text);
  const { resume, streamKey } = up.uploadKeys(caseKey, digest);
  const C = att.CHUNK_PLAINTEXT;
  const sealAll = (sealer) => {
    const out = [];
    for (let i = 0; i < sealer.params.chunks; i += 1) {
      out.push(sealer.sealChunk(data.subarray(Math.min(i * C, data.length), Math.min((i + 1) * C, data.length))));
    }
    return out;
  };
  const first = new att.AttachmentSealer(request.size, streamKey);
  const before = sealAll(first).slice(0, request.sent_before_drop);
  const again = new att.AttachmentSealer(request.size, streamKey, first.params.header);
  const after = sealAll(again).slice(request.sent_before_drop);
  let aborted = 'no';
  try {
    const controller = new AbortController();
    controller.abort();
    await up.fileHashOfBlob(new Blob([data]), { signal: controller.signal });
  } catch (err) {
    aborted = err.name;
  }
  return {
    file_hash_b64: b64encode(digest), resume_b64: b64encode(resume), stream_key_b64: b64encode(streamKey),
    resume_index: up.resumeIndex(resume), header_b64: b64encode(first.params.header), chunks: first.params.chunks,
    ciphertext_b64: b64encode(m.bytes.concat(...before, ...after)), progress, aborted,
  };
}

// The page's solver (test_vectors_browser.py): the 16-bit solution found in slices of 2 ms
// while a timer keeps firing (the page stays responsive), and an aborted solve.
export async function solveInPage(m, vectors) {
  const v = vectors.pow.solutions.find((s) => s.difficulty === 16);
  const c = fromHex(v.challenge_hex);
  const b = fromHex(v.binding_hex);
  let ticks = 0;
  const timer = setInterval(() => { ticks += 1; }, 1);
  const slices = [];
  const t0 = performance.now();
  let nonce;
  try {
    nonce = await m.pow.solve(c, b, { sliceMs: 2, onProgress: (p) => slices.push(p.tries) });
  } finally {
    clearInterval(timer);
  }
  const ms = performance.now() - t0;
  let aborted = 'no';
  try {
    const controller = new AbortController();
    const pending = m.pow.solve(c, new Uint8Array(16), { sliceMs: 1, signal: controller.signal,
      onProgress: () => controller.abort() });
    await pending;
  } catch (err) {
    aborted = err.name;
  }
  const searcher = new m.pow.Searcher(c, b);
  const direct = searcher.direct;
  searcher.close();
  return { nonce, want: v.first_nonce, slices: slices.length, increasing: slices.every((n, i) => i === 0 || n > slices[i - 1]),
    ticks, ms, aborted, direct, hashesPerSecond: v.first_nonce / (ms / 1000) };
}
