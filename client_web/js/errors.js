// One error type for every protocol failure, as in crypto/errors.py: `code` is stable and the
// same as Python's (the UI translates it); `message` is for developers.
export class ProtocolError extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.name = 'ProtocolError';
    this.code = code;
  }
}
