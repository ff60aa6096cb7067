// Files a new report: a fresh case key, then the report itself sealed to every desk in the
// verified manifest, without attachments (docs/PROTOCOL.md, "Resumable attachments"): the
// case key exists and is shown at once, and the files follow as the case's first follow-up,
// which a person whose upload was interrupted can send again later with the key. Nothing is
// kept on the device; the case key is returned once, for the person to write down, with the
// session (derived keys, in memory only) that sends the files.

import { ApiError } from './api.js';
import { loadTrust } from './trust.js';
import { once } from './retry.js';
import { today } from './day.js';
import { loadSodium } from '../sodium.js';
import * as casekey from '../casekey.js';
import { deriveCaseKeys, caseId } from '../kdf.js';
import { uploadRoot } from '../upload_keys.js';
import { seal } from '../envelope.js';
import { b64encode } from '../encoding.js';
import { parseReport } from '../report_schema.js';

// `report` is the structured report (docs/PROTOCOL.md, "Report schema"). It is checked with
// the schema before anything is sealed: a report the workstation would refuse is never sent
// (parseReport throws a ProtocolError with code bad_report and a path). `net` runs the
// request (retry.js): retried through a dropped connection. `proofStatus` ({working, done})
// is told when the proof of work takes long enough to need a word.
export async function submitReport({ report, lang }, { net = once, proofStatus = null } = {}) {
  parseReport(report);
  await loadSodium();
  const { manifest } = await loadTrust();
  const key = casekey.generate();
  const keys = deriveCaseKeys(key);
  const id = caseId(keys.lookup);
  const body = {
    v: 1,
    kind: 'report',
    case_id: id,
    day: today(),
    lang,
    reply_pk: b64encode(keys.replyPublic),
    sign_pk: b64encode(keys.signPublic),
    report,
    attachments: [],
  };
  parseReport(body.report);
  const envelope = b64encode(seal('report', body, keys.signSecret, manifest.desks));
  const json = { lookup: b64encode(keys.lookup), envelope, uploads: [] };
  // Paid for with a proof of work bound to the case id (ui/proof.js, loaded when a flow starts).
  const proof = await import('./proof.js');
  const payment = new proof.Payment('report', proof.reportBinding(id), proofStatus);
  const receipt = await net(async (afterFailure) => {
    try {
      return await payment.post('/api/v1/cases', json);
    } catch (error) {
      // An earlier attempt arrived but its answer was lost: this very report is filed.
      if (afterFailure && error instanceof ApiError && error.code === 'case_exists') return { case_id: id, day: body.day };
      throw error;
    }
  });
  const session = { keys, caseId: id, day: receipt.day, manifest, uploadRoot: uploadRoot(key), replies: [], refused: [] };
  return { caseKeyText: casekey.encode(key), caseId: receipt.case_id, day: receipt.day, session };
}
