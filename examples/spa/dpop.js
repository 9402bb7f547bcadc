// DPoP (RFC 9449) in the browser: a key that never leaves it, and a proof per request.
//
// - The key is an ECDSA P-256 pair made by WebCrypto with `extractable: false`: no script,
//   this one included, can export the private key. It is kept in IndexedDB (a CryptoKey
//   survives structured cloning, still non-extractable), so every tab of this origin and
//   every reload signs with the same key, the one authapi bound the session to.
// - A token copied out of the page (from a log, a proxy, an XSS that reads memory) is
//   useless elsewhere: authapi wants a fresh proof by this key on every use.
// - After a logout the key is thrown away; the next sign-in makes a new one.

const DATABASE = "authapi-dpop";
const STORE = "keys";
const ENTRY = "current";
const LOCK = "authapi-dpop-key";
const ALGORITHM = { name: "ECDSA", namedCurve: "P-256" };
const SIGNING = { name: "ECDSA", hash: "SHA-256" };
const encoder = new TextEncoder();

export function b64url(bytes) {
  const binary = String.fromCharCode(...new Uint8Array(bytes));
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const b64json = (value) => b64url(encoder.encode(JSON.stringify(value)));
const sha256 = (text) => crypto.subtle.digest("SHA-256", encoder.encode(text));

// One IndexedDB request in its own transaction; resolves with its result once committed.
function stored(mode, operation) {
  return new Promise((resolve, reject) => {
    const opening = indexedDB.open(DATABASE, 1);
    opening.onupgradeneeded = () => opening.result.createObjectStore(STORE);
    opening.onerror = () => reject(opening.error);
    opening.onsuccess = () => {
      const database = opening.result;
      const transaction = database.transaction(STORE, mode);
      const request = operation(transaction.objectStore(STORE));
      transaction.oncomplete = () => {
        database.close();
        resolve(request.result);
      };
      transaction.onerror = transaction.onabort = () => {
        database.close();
        reject(transaction.error);
      };
    };
  });
}

// The key of this origin: the stored one, or a new one (made once, under a lock, so two
// tabs signing in at the same moment cannot each make their own).
async function loadOrCreate() {
  const existing = await stored("readonly", (keys) => keys.get(ENTRY));
  if (existing) return existing;
  const pair = await crypto.subtle.generateKey(ALGORITHM, false, ["sign", "verify"]);
  const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", pair.publicKey);
  const jwk = { crv, kty, x, y }; // the public part only, members in RFC 7638 order
  const thumbprint = b64url(await sha256(JSON.stringify(jwk)));
  const key = { privateKey: pair.privateKey, jwk, thumbprint };
  await stored("readwrite", (keys) => keys.put(key, ENTRY));
  return key;
}

export function supported() {
  return Boolean(globalThis.isSecureContext && crypto.subtle && globalThis.indexedDB);
}

export function createSigner() {
  let current = null; // this tab's copy of the stored key (a promise)
  let nonce = null; // the latest DPoP-Nonce the server sent, if it uses them

  function key() {
    if (current === null) {
      const load = () => loadOrCreate();
      current = navigator.locks ? navigator.locks.request(LOCK, load) : load();
      current.catch(() => { current = null; });
    }
    return current;
  }

  // A proof for one request: `htu` without query or fragment, `ath` with an access token.
  async function proof(method, url, accessToken) {
    const { privateKey, jwk } = await key();
    const target = new URL(url);
    target.search = "";
    target.hash = "";
    const claims = { jti: crypto.randomUUID(), htm: method, htu: target.href,
                     iat: Math.floor(Date.now() / 1000) };
    if (accessToken) claims.ath = b64url(await sha256(accessToken));
    if (nonce) claims.nonce = nonce;
    const input = `${b64json({ typ: "dpop+jwt", alg: "ES256", jwk })}.${b64json(claims)}`;
    const signature = await crypto.subtle.sign(SIGNING, privateKey, encoder.encode(input));
    return `${input}.${b64url(signature)}`;
  }

  return {
    proof,
    thumbprint: async () => (await key()).thumbprint,
    // For a test: the private key's own word that it cannot be exported.
    describe: async () => {
      const { privateKey, thumbprint } = await key();
      return { thumbprint, extractable: privateKey.extractable,
               algorithm: `${privateKey.algorithm.name} ${privateKey.algorithm.namedCurve}` };
    },
    rememberNonce(value) {
      if (value) nonce = value;
    },
    // Another tab may have replaced the key: read it again from IndexedDB.
    reload() {
      current = null;
    },
    async discard() {
      current = null;
      await stored("readwrite", (keys) => keys.delete(ENTRY));
    },
  };
}
