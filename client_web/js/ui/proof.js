// The proof of work a report, a follow-up or an upload pays with (docs/PROTOCOL.md, "Proof of
// work"): a challenge fetched from the server, solved here in slices that leave the page
// responsive, and sent with the request it is bound to. The same proof serves every retry of
// that request through a dropped connection (it is the same request); when the server says
// the challenge has expired, one new challenge is fetched and solved, once.

import { ApiError } from './api.js';
import { requestWithin } from './retry.js';
import { b64decode } from '../encoding.js';
import { CHALLENGE_BYTES, solve } from '../pow.js';

// The bindings (docs/PROTOCOL.md), for the flows that import this module when they start.
export { followupBinding, reportBinding, uploadBinding } from '../pow.js';

// Solving shorter than this shows nothing; longer, the status line says what is happening.
const NOTICE_AFTER_MS = 600;
const JSON_DEADLINE_MS = 90_000;

export const NO_STATUS = Object.freeze({ working() {}, done() {} });

async function makeProof(purpose, binding, status) {
  const issued = await requestWithin(JSON_DEADLINE_MS, 'GET', `/api/v1/pow?purpose=${purpose}`);
  const challenge = b64decode(issued.challenge, { field: 'challenge', length: CHALLENGE_BYTES });
  let shown = false;
  try {
    const nonce = await solve(challenge, binding, {
      onProgress: ({ ms }) => {
        if (!shown && ms >= NOTICE_AFTER_MS) {
          shown = true;
          status.working();
        }
      },
    });
    return { challenge: issued.challenge, nonce };
  } finally {
    if (shown) status.done();
  }
}

// One request's proof, kept across the attempts of a retrying runner (retry.js).
export class Payment {
  constructor(purpose, binding, status = NO_STATUS) {
    this.purpose = purpose;
    this.binding = binding;
    this.status = status || NO_STATUS;
    this.proof = null;
    this.renewed = false;
  }

  // POST `json` with the proof to `path`; on pow_expired, once, with a fresh proof.
  async post(path, json) {
    for (;;) {
      if (!this.proof) this.proof = await makeProof(this.purpose, this.binding, this.status);
      try {
        return await requestWithin(JSON_DEADLINE_MS, 'POST', path, { json: { ...json, proof: this.proof } });
      } catch (error) {
        if (error instanceof ApiError && error.code === 'pow_expired' && !this.renewed) {
          this.renewed = true;
          this.proof = null;
          continue;
        }
        throw error;
      }
    }
  }
}
