// Requests that survive a dropped connection. A request that fails because the network is
// down (no answer at all, a stall past its deadline, a proxy's 502/503/504, a server fault)
// is tried again after 1 s, 2 s, 4 s … up to 30 s between attempts, each wait shortened or
// lengthened at random (jitter) so that many phones coming back at once do not all knock
// together; and at once when the browser says it is online again. After ten minutes without
// a single success it gives up. A refusal (a 4xx with the server's code) is never retried:
// the same request would be refused again, so it is shown to the person instead.

import { ApiError, request } from './api.js';

export const RETRY_POLICY = Object.freeze({
  firstDelayMs: 1000,
  maxDelayMs: 30_000,
  giveUpAfterMs: 10 * 60 * 1000,
});

// Refusals whose status says "later" but that the same request would meet again for hours
// (a case's follow-ups for the day, a full server): shown to the person at once instead.
const LASTING = new Set(['followup_limit', 'storage_full']);

// 408 (request timeout) and 429 (too many requests) are "later", not "no".
export function isTransient(error) {
  if (!error) return false;
  if (error.code === 'network') return true;
  if (LASTING.has(error.code)) return false;
  const status = Number(error.status) || 0;
  return status >= 500 || status === 408 || status === 429;
}

// The wait before attempt n + 1: half the doubling delay, plus up to as much again at random.
export function backoffDelay(attempt, policy = RETRY_POLICY, random = Math.random) {
  const base = Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base / 2 + random() * (base / 2));
}

function pause(ms) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      window.removeEventListener('online', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    window.addEventListener('online', done);
  });
}

// Runs `attempt(afterFailure)` until it succeeds, it is refused, or the network has been gone
// for `giveUpAfterMs`. `afterFailure` is true on every attempt after a failed one, so the
// caller can first ask the server what arrived. `onRetrying(error)` is called before each
// wait, `onRecovered()` once an attempt succeeds after a failure.
export async function withRetry(attempt, { onRetrying = () => {}, onRecovered = () => {}, policy = RETRY_POLICY } = {}) {
  let failures = 0;
  let failingSince = 0;
  for (;;) {
    try {
      const result = await attempt(failures > 0);
      if (failures > 0) onRecovered();
      return result;
    } catch (error) {
      if (!isTransient(error)) throw error;
      failures += 1;
      if (failures === 1) failingSince = Date.now();
      if (Date.now() - failingSince >= policy.giveUpAfterMs) throw error;
      onRetrying(error);
      await pause(backoffDelay(failures, policy));
    }
  }
}

// A runner that retries through `withRetry` and tells `status` (an object with
// `retrying()` and `recovered()`) when the connection drops and comes back.
export function retrying(status) {
  return (attempt) => withRetry(attempt, {
    onRetrying: () => status.retrying(),
    onRecovered: () => status.recovered(),
  });
}

// Runs once: for requests whose failure the person should see at once.
export function once(attempt) {
  return attempt(false);
}

// A request with a deadline: a stall (a watched network that drops packets silently) or a body
// cut off counts as a dropped connection (`network`), like no answer at all.
export async function requestWithin(deadlineMs, method, path, options = {}) {
  try {
    return await request(method, path, { ...options, signal: AbortSignal.timeout(deadlineMs) });
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw new ApiError('network', 0);
  }
}
