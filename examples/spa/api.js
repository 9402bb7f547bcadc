// The authapi client of the demo page: cookie mode, as a single-page app should use it.
//
// - The refresh token lives only in authapi's HttpOnly cookie (path /auth): no script,
//   this one included, can ever read it.
// - The access token lives only in this module's memory: never in localStorage,
//   sessionStorage or a readable cookie. A reload gets a new one from the cookie.
// - A refresh shortly before expiry (or after a 401) takes a Web Lock, so the tabs of
//   this origin refresh one after another, never with the same cookie at once.
//   AUTHAPI_REFRESH_GRACE covers browsers and apps where that cannot be guaranteed.
// - A logout in one tab reaches the others through a BroadcastChannel.

const LOCK = "authapi-refresh";
const CHANNEL = "authapi";
const CSRF_COOKIE = "csrf_refresh_token";

export class ApiError extends Error {
  constructor(status, problem) {
    super(`${status} ${problem.code || "error"}: ${problem.detail || ""}`);
    this.status = status;
    this.code = problem.code;
  }
}

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

export function createClient(base, onChange = () => {}) {
  let access = null;
  let expiresAt = 0;
  let timer = null;
  const stats = { refreshes: 0 };
  const channel = new BroadcastChannel(CHANNEL);

  function changed() {
    onChange({ signedIn: access !== null, expiresAt, refreshes: stats.refreshes });
  }

  function accept(pair) {
    access = pair.access_token;
    expiresAt = Date.now() + pair.expires_in * 1000;
    clearTimeout(timer);
    timer = setTimeout(() => refresh().catch(() => {}), refreshDelay(pair.expires_in) * 1000);
    changed();
  }

  function forget() {
    access = null;
    expiresAt = 0;
    clearTimeout(timer);
    changed();
  }

  function send(method, path, { body, headers = {}, bearer = true } = {}) {
    const sent = { ...headers };
    if (body !== undefined) sent["Content-Type"] = "application/json";
    if (bearer && access) sent.Authorization = `Bearer ${access}`;
    return fetch(base + path, {
      method,
      headers: sent,
      credentials: "include", // the refresh cookie goes along to /auth on the API's origin
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  async function login(email, password) {
    const response = await send("POST", "/auth/login", {
      body: { email, password, use_cookies: true },
      bearer: false,
    });
    if (!response.ok) throw await problemOf(response);
    accept(await response.json());
    channel.postMessage({ type: "login" });
  }

  async function refreshNow() {
    const response = await send("POST", "/auth/refresh", {
      headers: { "X-CSRF-TOKEN": csrfValue() },
      bearer: false,
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
      await refresh();
      response = await send(method, path, options);
    }
    if (!response.ok) throw await problemOf(response);
    return response.status === 204 ? null : response.json();
  }

  async function logout() {
    // By cookie (no Authorization header): authapi revokes the session and clears both cookies.
    const response = await send("POST", "/auth/logout", {
      headers: { "X-CSRF-TOKEN": csrfValue() },
      bearer: false,
    });
    forget();
    channel.postMessage({ type: "logout" });
    if (!response.ok && response.status !== 401) throw await problemOf(response);
  }

  // A new tab, or a reload, picks the session up from the cookie if there is one.
  async function resume() {
    if (csrfValue()) await refresh().catch(() => {});
    changed();
  }

  channel.onmessage = ({ data }) => {
    if (data.type === "logout") forget();
    if (data.type === "login" && access === null) resume();
  };

  return { login, refresh, call, logout, resume, signedIn: () => access !== null };
}
