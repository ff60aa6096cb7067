// The only way the page talks to the server: same origin, no cookies, no cache,
// no referrer. Errors come back as ApiError with the server's stable code.

export class ApiError extends Error {
  constructor(code, status) {
    super(code);
    this.code = code;
    this.status = status;
  }
}

// `signal` (an AbortSignal) cuts a stalled request short; it then fails as `network`.
export async function request(method, path, { json, body, signal } = {}) {
  const init = { method, credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer', headers: {}, signal };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers['Content-Type'] = 'application/json';
  } else if (body !== undefined) {
    init.body = body;
    init.headers['Content-Type'] = 'application/octet-stream';
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError('network', 0);
  }
  if (!response.ok) {
    let code = 'generic';
    try {
      code = (await response.json()).error.code || code;
    } catch {
      // a proxy's HTML error page: keep the generic code
    }
    throw new ApiError(code, response.status);
  }
  if (response.status === 204) return null;
  const type = response.headers.get('Content-Type') || '';
  return type.includes('application/json') ? response.json() : new Uint8Array(await response.arrayBuffer());
}
