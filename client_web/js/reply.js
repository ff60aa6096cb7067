// Replies from a desk (docs/PROTOCOL.md, "Reply"; crypto/reply.py): signed by the desk,
// padded, sealed to the case's reply key. The page opens them with the keys derived from
// the case key and trusts only desks in the verified manifest.
import { ProtocolError } from './errors.js';
import { equal, utf8 } from './bytes.js';
import { field, isInt, jsonLoad } from './encoding.js';
import { DAY, deskByKeyId } from './manifest.js';
import { MESSAGE_BUCKETS, unpadMessage } from './padding.js';
import { SIGNATURE_BYTES, verify } from './signing.js';
import { getSodium } from './sodium.js';

export const MAGIC = utf8('QLRP');
export const VERSION = 1;
const SEAL_OVERHEAD = 48;
export const STATUSES = [
  'received',
  'assessing',
  'more_information_needed',
  'action_under_way',
  'awaiting_state_reply',
  'closed',
];
// "still_open": nothing has changed, the case is open and not forgotten (the page shows its
// own translated words for it).
export const NOTICES = ['still_open'];
// Served under another seq than the desk signed, or a seq served twice.
export const REPLAYED = 'reply_replayed';

// The key-free check the server also runs; returns the signing desk's key id.
export function checkFraming(blob) {
  if (blob.length < 13 || !equal(blob.subarray(0, 4), MAGIC)) throw new ProtocolError('bad_reply', 'not a Quietline reply');
  if (blob[4] !== VERSION) throw new ProtocolError('unsupported_version', `reply version ${blob[4]} is not supported`);
  if (!MESSAGE_BUCKETS.includes(blob.length - 13 - SEAL_OVERHEAD)) {
    throw new ProtocolError('bad_reply', 'reply size is not a padding bucket');
  }
  return blob.slice(5, 13);
}

// Returns {caseId, seq, status, text, day, desk, notice} (notice null when absent) or throws
// ProtocolError; the checks run in crypto/reply.py's order so both sides give the same code.
export function openReply(blob, manifest, replyPublic, replySecret, caseId) {
  const desk = deskByKeyId(manifest, checkFraming(blob));
  let padded;
  try {
    padded = getSodium().crypto_box_seal_open(blob.subarray(13), replyPublic, replySecret);
  } catch {
    throw new ProtocolError('decryption_failed', 'reply was tampered with or not for this case');
  }
  const inner = unpadMessage(padded);
  const bodyBytes = inner.subarray(SIGNATURE_BYTES);
  verify('reply', bodyBytes, inner.subarray(0, SIGNATURE_BYTES), desk.signPublic);
  const body = jsonLoad(bodyBytes, { what: 'reply' });
  if (!(isInt(field(body, 'v')) && field(body, 'v') === VERSION) || field(body, 'kind') !== 'reply') {
    throw new ProtocolError('bad_reply', 'reply body has the wrong version or kind');
  }
  if (field(body, 'case_id') !== caseId) throw new ProtocolError('wrong_case', 'reply belongs to another case');
  if (field(body, 'desk') !== desk.id) {
    throw new ProtocolError('bad_reply', 'reply names another desk than the one that signed it');
  }
  const reply = {
    caseId,
    seq: field(body, 'seq'),
    status: field(body, 'status'),
    text: field(body, 'text'),
    day: field(body, 'day'),
    desk: desk.id,
    notice: field(body, 'notice') ?? null, // like Python's body.get: absent and null are None
  };
  if (
    !isInt(reply.seq)
    || reply.seq < 1
    || !STATUSES.includes(reply.status)
    || typeof reply.text !== 'string'
    || typeof reply.day !== 'string'
    || !DAY.test(reply.day)
    || !(reply.notice === null || NOTICES.includes(reply.notice))
  ) {
    throw new ProtocolError('bad_reply', 'reply body is malformed');
  }
  return reply;
}

// The replies a lookup serves, each {seq, blob} (blob as bytes), opened in the order served:
// one outcome per entry, the reply or the ProtocolError that refused it (crypto/reply.py's
// open_replies). Besides each reply's own checks, a reply whose signed `seq` is not the seq it
// is served under, or whose seq was already opened, is refused (`reply_replayed`): the server
// cannot show an old reply as a new one, or reorder them.
export function openReplies(served, manifest, replyPublic, replySecret, caseId) {
  const opened = new Set();
  return served.map(({ seq, blob }) => {
    let reply;
    try {
      reply = openReply(blob, manifest, replyPublic, replySecret, caseId);
      if (!(isInt(seq) && reply.seq === seq)) {
        throw new ProtocolError(REPLAYED, 'reply is served under another number than the desk signed');
      }
      if (opened.has(reply.seq)) throw new ProtocolError(REPLAYED, 'a reply with this number was already served');
    } catch (error) {
      if (error instanceof ProtocolError) return error;
      throw error;
    }
    opened.add(reply.seq);
    return reply;
  });
}
