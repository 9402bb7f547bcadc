// The authapi client of the demo page: cookie mode, as a single-page app should use it.
//
// - The refresh token lives only in authapi's HttpOnly cookie (path /auth): no script,
//   this one included, can ever read it.
// - The access token lives only in this module's memory: never in localStorage,
//   sessionStorage or a readable cookie. A reload gets a new one from the cookie.
// - Both are bound to this browser's DPoP key (dpop.js): every sign-in, refresh and call
//   carries a proof signed by a key that cannot leave the browser, so a copied token or
//   cookie is refused anywhere else. Where WebCrypto is missing (a page not served from
//   https or localhost), the client falls back to plain bearer tokens.
// - A refresh shortly before expiry (or after a 401) takes a Web Lock, so the tabs of
//   this origin refresh one after another, never with the same cookie at once.
//   AUTHAPI_REFRESH_GRACE covers browsers and apps where that cannot be guaranteed.
// - A logout in one tab reaches the others through a BroadcastChannel.
import { createSigner, supported } from "./dpop.js";

const LOCK = "authapi-refresh";
const CHANNEL = "authapi";
const CSRF_COOKIE = "csrf_refresh_token";

// A refusal as the server put it (RFC 9457): the message is its `detail` (else its
// `title`), the words a page should show; `code` is what a program switches on.
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `The server answered ${status}.`);
    this.status = status;
    this.code = problem.code || problem.error || "error";
    this.problem = problem;
  }
}

// The 401s that a refresh may cure: the access token, not the request, was refused.
// Any other 401 (a wrong password, a passkey refused, a sign-in too old) is the answer,
// and retrying would only replace it with a worse one (a used challenge, say).
const TOKEN_REFUSED = new Set(["token_missing", "token_invalid", "token_expired",
                               "token_revoked"]);

async function problemOf(response) {
  try {
    return new ApiError(response.status, await response.json());
  } catch {
    return new ApiError(response.status, {});
  }
}

// The CSRF value that authapi put in a readable cookie; sent back as X-CSRF-TOKEN.
function csrfValue() {
  const found = document.cookie.split("; ").find((part) => part.startsWith(`${CSRF_COOKIE}=`));
  return found ? decodeURIComponent(found.slice(CSRF_COOKIE.length + 1)) : "";
}

// Seconds after which to refresh silently: a minute early, or at 3/4 of a short lifetime.
function refreshDelay(expiresIn) {
  return expiresIn > 240 ? expiresIn - 60 : expiresIn * 0.75;
}

export function createClient(base, onChange = () => {}, { dpop = supported() } = {}) {
  let access = null;
  let scheme = "Bearer"; // the answer's token_type: "DPoP" when the pair is bound
  let expiresAt = 0;
  let timer = null;
  const stats = { refreshes: 0 };
  const channel = new BroadcastChannel(CHANNEL);
  const signer = dpop ? createSigner() : null;

  function changed() {
    onChange({ signedIn: access !== null, expiresAt, refreshes: stats.refreshes, scheme });
  }

  function accept(pair) {
    access = pair.access_token;
    scheme = pair.token_type === "DPoP" ? "DPoP" : "Bearer";
    expiresAt = Date.now() + pair.expires_in * 1000;
    clearTimeout(timer);
    timer = setTimeout(() => refresh().catch(() => {}), refreshDelay(pair.expires_in) * 1000);
    changed();
  }

  function forget() {
    access = null;
    scheme = "Bearer";
    expiresAt = 0;
    clearTimeout(timer);
    changed();
  }

  // One fetch. `prove`: send a DPoP proof (sign-in and refresh, to bind or to prove the
  // key); a bound access token always goes with one. A server that wants nonces answers
  // `use_dpop_nonce` with a DPoP-Nonce header: one retry with it (RFC 9449 §8).
  async function send(method, path, { body, headers = {}, bearer = true, prove = false } = {}) {
    const url = base + path;
    for (let attempt = 0; ; attempt += 1) {
      const sent = { ...headers };
      if (body !== undefined) sent["Content-Type"] = "application/json";
      const token = bearer ? access : null;
      if (token) sent.Authorization = `${scheme} ${token}`;
      if (signer && (prove || (token && scheme === "DPoP"))) {
        sent.DPoP = await signer.proof(method, url, token && scheme === "DPoP" ? token : null);
      }
      const response = await fetch(url, {
        method,
        headers: sent,
        credentials: "include", // the refresh cookie goes along to /auth on the API's origin
        body: body === undefined ? undefined : JSON.stringify(body),
      }).catch(() => { // the browser says no more than "Failed to fetch"
        throw new ApiError(0, { code: "network_error", detail: `Cannot reach the API at `
          + `${base}: is it running, and does its AUTHAPI_CORS_ORIGINS name ${location.origin}?` });
      });
      const nonce = response.headers.get("DPoP-Nonce");
      if (!signer || !nonce) return response;
      signer.rememberNonce(nonce);
      if (attempt > 0 || response.ok || !sent.DPoP) return response;
      const problem = await response.clone().json().catch(() => ({}));
      if (problem.code !== "use_dpop_nonce" && problem.error !== "use_dpop_nonce") return response;
    }
  }

  // A call that needs no session (register, a reset, a link's token, the passkey
  // options): the JSON answer (null when there is none), or an ApiError.
  async function anonymous(method, path, body) {
    const response = await send(method, path, { body, bearer: false });
    if (!response.ok) throw await problemOf(response);
    return response.status === 202 || response.status === 204 ? null : response.json();
  }

  // Any sign-in (password, passkey): the pair is bound to this browser's key by the proof.
  async function signIn(path, body) {
    const response = await send("POST", path, {
      body: { ...body, use_cookies: true },
      bearer: false,
      prove: true,
    });
    if (!response.ok) throw await problemOf(response);
    accept(await response.json());
    channel.postMessage({ type: "login" });
  }

  // A fresh sign-in in the same session, when a sensitive change asks for one
  // (401 insufficient_user_authentication): a password (+ otp) or a passkey assertion.
  async function reauthenticate(body) {
    if (access === null) await refresh();
    const response = await send("POST", "/auth/reauthenticate",
                                { body: { ...body, use_cookies: true } });
    if (!response.ok) throw await problemOf(response);
    accept(await response.json());
  }

  const login = (email, password, otp) =>
    signIn("/auth/login", otp ? { email, password, otp } : { email, password });

  async function refreshNow() {
    const response = await send("POST", "/auth/refresh", {
      headers: { "X-CSRF-TOKEN": csrfValue() },
      bearer: false,
      prove: true, // a bound session refreshes only with a proof by its key
    });
    if (!response.ok) {
      forget();
      throw await problemOf(response);
    }
    stats.refreshes += 1;
    accept(await response.json());
  }

  // One refresh at a time across every tab of this origin (Web Locks API).
  function refresh() {
    return navigator.locks ? navigator.locks.request(LOCK, refreshNow) : refreshNow();
  }

  // A call with the access token; after a 401, one silent refresh and one retry.
  async function call(method, path, options = {}) {
    if (access === null) await refresh();
    let response = await send(method, path, options);
    if (response.status === 401) {
      const problem = await response.clone().json().catch(() => ({}));
      if (TOKEN_REFUSED.has(problem.code)) {
        await refresh();
        response = await send(method, path, options);
      }
    }
    if (!response.ok) throw await problemOf(response);
    return response.status === 204 ? null : response.json();
  }

  async function logout() {
    // By cookie (no Authorization header): authapi revokes the session and clears both
    // cookies. Under the refresh lock, so that it never races a silent refresh in another
    // tab (the CSRF value is the session's and survives that refresh; the cookie does not).
    const end = () => send("POST", "/auth/logout", {
      headers: { "X-CSRF-TOKEN": csrfValue() },
      bearer: false,
    });
    const response = await (navigator.locks ? navigator.locks.request(LOCK, end) : end());
    forget();
    if (signer) await signer.discard(); // the next sign-in gets a new key
    channel.postMessage({ type: "logout" });
    if (!response.ok && response.status !== 401) throw await problemOf(response);
  }

  // A new tab, or a reload, picks the session up from the cookie if there is one.
  async function resume() {
    if (csrfValue()) await refresh().catch(() => {});
    changed();
  }

  channel.onmessage = ({ data }) => {
    if (signer) signer.reload(); // the other tab may have made or dropped the key
    if (data.type === "logout") forget();
    if (data.type === "login" && access === null) resume();
  };

  return {
    login, signIn, anonymous, refresh, call, logout, resume, reauthenticate,
    signedIn: () => access !== null,
    // For a test driving the page: a proof by this browser's key, and what the key is.
    // Anything running in the page can sign with the key; nothing can take it away.
    proof: (method, url) => (signer ? signer.proof(method, url) : Promise.resolve(null)),
    key: () => (signer ? signer.describe() : Promise.resolve(null)),
  };
}
