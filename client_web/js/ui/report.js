// Files a new report: a fresh case key, attachments encrypted and uploaded, then the
// report itself sealed to every desk in the verified manifest. Nothing is kept on the
// device; the case key is returned once, for the person to write down.

import { request } from './api.js';
import { loadTrust } from './trust.js';
import { uploadAll } from './uploader.js';
import { today } from './day.js';
import { loadSodium } from '../sodium.js';
import * as casekey from '../casekey.js';
import { deriveCaseKeys, caseId } from '../kdf.js';
import { seal } from '../envelope.js';
import { b64encode } from '../encoding.js';
import { parseReport } from '../report_schema.js';

// `report` is the structured report (docs/PROTOCOL.md, "Report schema"). It is checked with
// the schema before anything is uploaded or sealed: a report the workstation would refuse
// is never sent (parseReport throws a ProtocolError with code bad_report and a path).
export async function submitReport({ report, files, lang }, progress) {
  parseReport(report);
  await loadSodium();
  const { manifest } = await loadTrust();
  const key = casekey.generate();
  const keys = deriveCaseKeys(key);
  const id = caseId(keys.lookup);
  const attachments = await uploadAll(files, progress.file);
  progress.report();
  const body = {
    v: 1,
    kind: 'report',
    case_id: id,
    day: today(),
    lang,
    reply_pk: b64encode(keys.replyPublic),
    sign_pk: b64encode(keys.signPublic),
    report,
    attachments,
  };
  parseReport(body.report);
  const envelope = seal('report', body, keys.signSecret, manifest.desks);
  const receipt = await request('POST', '/api/v1/cases', {
    json: { lookup: b64encode(keys.lookup), envelope: b64encode(envelope), uploads: attachments.map((a) => a.upload_id) },
  });
  return { caseKeyText: casekey.encode(key), caseId: receipt.case_id, day: receipt.day };
}
