// The returning submitter: the case key is parsed and turned into keys in memory only;
// replies are opened and their desk signatures checked in the page; follow-ups are
// signed with the case key and sealed to the desks like a report. Attachments are uploaded
// first (uploader.js) and named here by their descriptors.

import { ApiError, request } from './api.js';
import { loadTrust } from './trust.js';
import { once, requestWithin } from './retry.js';
import { today } from './day.js';
import { loadSodium } from '../sodium.js';
import * as casekey from '../casekey.js';
import { deriveCaseKeys, caseId } from '../kdf.js';
import { uploadRoot } from '../upload_keys.js';
import { seal } from '../envelope.js';
import { openReplies } from '../reply.js';
import { ProtocolError } from '../errors.js';
import { b64decode, b64encode } from '../encoding.js';
import { parseFollowupUpdate } from '../report_schema.js';

export async function openCase(keyText) {
  await loadSodium();
  const key = casekey.parse(keyText);
  const keys = deriveCaseKeys(key);
  const { manifest } = await loadTrust();
  const found = await request('POST', '/api/v1/cases/lookup', { json: { lookup: b64encode(keys.lookup) } });
  // Every lookup answers 200 with the same size and shape (docs/API.md); an unknown case
  // says so only in `found`, and is explained like any refusal.
  if (found.found !== true) throw new ApiError('unknown_case', 200);
  const expectedId = caseId(keys.lookup);
  const replies = [];
  const refused = [];
  const served = [];
  for (const item of found.replies) {
    try {
      served.push({ seq: item.seq, blob: b64decode(item.blob) });
    } catch (error) {
      refused.push(error.code || 'generic');
    }
  }
  // Each reply must be served under the seq its desk signed, once (reply_replayed).
  for (const outcome of openReplies(served, manifest, keys.replyPublic, keys.replySecret, expectedId)) {
    if (outcome instanceof ProtocolError) refused.push(outcome.code);
    else replies.push(outcome);
  }
  replies.sort((a, b) => a.seq - b.seq);
  return { keys, caseId: expectedId, day: found.day, replies, refused, manifest, uploadRoot: uploadRoot(key) };
}

function randomId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

// The follow-up body (docs/PROTOCOL.md, "Envelope"): text (may be empty), attachments, and
// only what the person changes: `consent` / `victim_consent` with just the questions they
// answered now, `withdraw: true` to withdraw the report.
export function followupBody(session, { text = '', attachments = [], consent = null, victimConsent = null, withdraw = false }) {
  const body = {
    v: 1,
    kind: 'followup',
    case_id: session.caseId,
    id: randomId(),
    day: today(),
    text,
    attachments,
  };
  if (consent && Object.keys(consent).length) body.consent = consent;
  if (victimConsent && Object.keys(victimConsent).length) body.victim_consent = victimConsent;
  if (withdraw) body.withdraw = true;
  return body;
}

// `attachments`: descriptors from uploadFiles (uploader.js), whose uploads are complete.
// `net` runs the request (retry.js `retrying` through a dropped connection, or `once`).
export async function sendFollowup(session, { text = '', attachments = [], consent = null, victimConsent = null, withdraw = false }, { net = once, proofStatus = null } = {}) {
  const body = followupBody(session, { text, attachments, consent, victimConsent, withdraw });
  // Checked as sealed: nothing the schema refuses is sent.
  parseFollowupUpdate(body);
  const envelope = seal('followup', body, session.keys.signSecret, session.manifest.desks);
  const json = { lookup: b64encode(session.keys.lookup), envelope: b64encode(envelope), uploads: attachments.map((a) => a.upload_id) };
  // Paid for with a proof of work bound to the case and this envelope (ui/proof.js, loaded when a flow starts).
  const proof = await import('./proof.js');
  const payment = new proof.Payment('followup', proof.followupBinding(session.caseId, envelope), proofStatus);
  return net(async (afterFailure) => {
    try {
      return await payment.post('/api/v1/cases/followups', json);
    } catch (error) {
      // An earlier attempt arrived but its answer was lost: this envelope is filed (and its
      // uploads with it).
      if (afterFailure && error instanceof ApiError && error.code === 'followup_exists') return { day: body.day };
      if (afterFailure && attachments.length && error instanceof ApiError && error.code === 'upload_in_use') return { day: body.day };
      throw error;
    }
  });
}

// Withdrawal: the same sealed follow-up body with `withdraw: true`, sent to its own endpoint,
// which deletes the case from the server at once; the focal point gets the sealed body
// through a withdrawal item that names no case (docs/API.md, "Withdrawal").
export async function sendWithdrawal(session, { net = once } = {}) {
  const body = followupBody(session, { text: '', withdraw: true });
  parseFollowupUpdate(body);
  const envelope = seal('followup', body, session.keys.signSecret, session.manifest.desks);
  const json = { lookup: b64encode(session.keys.lookup), envelope: b64encode(envelope) };
  return net(async (afterFailure) => {
    try {
      return await requestWithin(90_000, 'POST', '/api/v1/cases/withdraw', { json });
    } catch (error) {
      // An earlier attempt arrived but its answer was lost: the case is already gone.
      if (afterFailure && error instanceof ApiError && error.code === 'unknown_case') return { day: body.day };
      throw error;
    }
  });
}

// Checks a follow-up before its files are uploaded, so that nothing the schema refuses
// starts sending.
export function checkFollowup(session, { text = '', consent = null, victimConsent = null, withdraw = false }) {
  parseFollowupUpdate(followupBody(session, { text, consent, victimConsent, withdraw }));
}
