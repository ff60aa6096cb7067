// Loads libsodium.js once, lazily, from our own origin (CSP: script-src 'self').
//
// The two vendored files are classic scripts (UMD): the first sets window.libsodium, the
// second wraps it as window.sodium. libsodium.js tries its WebAssembly build first and, when
// WebAssembly is missing or disabled (Tor Browser "Safer"), falls back to its asm.js build;
// both give identical output. Every other module calls getSodium() synchronously, after the
// page has awaited loadSodium() once.

// The exact bytes of the pinned 0.7.13 files (client_web/package.json). The browser refuses
// a different file (Subresource Integrity), and scripts/vendor.mjs refuses to copy one.
export const VENDOR_FILES = [
  {
    name: 'libsodium.js',
    from: 'node_modules/libsodium/dist/modules/libsodium.js',
    integrity: 'sha384-SnI6QJTelmxon+8sc89dkWPTJjMT2xMjKtKC4lTAJrkY3NxMvQfMfMCA2fi+kNlO',
  },
  {
    name: 'libsodium-wrappers.js',
    from: 'node_modules/libsodium-wrappers/dist/modules/libsodium-wrappers.js',
    integrity: 'sha384-RP9UsCc5EexLsuVeCjf7b+lBnH9zCtNecfZX7tZGZGf9jkivozWYfHAzboabg8QR',
  },
];

let instance = null;
let pending = null;

function addScript(src, integrity) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.integrity = integrity;
    script.async = false;
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.appendChild(script);
  });
}

async function loadInBrowser(base) {
  const [library, wrapper] = VENDOR_FILES;
  await addScript(base + library.name, library.integrity);
  const lib = globalThis.libsodium;
  if (!lib) throw new Error('libsodium.js did not load');
  // Let libsodium.js finish starting before the wrapper reads it. Without WebAssembly its
  // fallback swaps in the asm.js build by deleting every property of the module object,
  // `ready` included, as soon as the script has run. The wrapper expects `ready` (under
  // Node and in bundles both files run in one task, so it gets there first); with two
  // script elements it comes too late and fails on `ready.then`. Once start-up is over,
  // nothing deletes it again, so a resolved `ready` is accurate.
  const starting = lib.ready;
  if (starting) await starting;
  if (!lib.ready) lib.ready = Promise.resolve();
  await addScript(base + wrapper.name, wrapper.integrity);
  const sodium = globalThis.sodium;
  if (!sodium || !sodium.ready) throw new Error('libsodium did not initialise');
  await sodium.ready;
  return sodium;
}

// Resolves to the ready sodium object; safe to call many times (one load per page).
export function loadSodium({ base = '/vendor/' } = {}) {
  if (!pending) {
    if (typeof document === 'undefined') {
      return Promise.reject(new Error('no document: call setSodium() with a ready libsodium-wrappers instance'));
    }
    pending = loadInBrowser(base).then(
      (sodium) => {
        instance = sodium;
        return sodium;
      },
      (err) => {
        pending = null; // let a later call retry (e.g. after a network hiccup)
        throw err;
      },
    );
  }
  return pending;
}

// For Node tests and tools: use an already-ready libsodium-wrappers instance.
export function setSodium(sodium) {
  instance = sodium;
  pending = Promise.resolve(sodium);
}

export function getSodium() {
  if (!instance) throw new Error('libsodium is not loaded yet: await loadSodium() first');
  return instance;
}
