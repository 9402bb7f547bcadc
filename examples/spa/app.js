// The demo page: each button names an action (data-action); a new feature is one more
// entry in `actions` and one more button. Views are sections (data-view); the paths the
// mails link to (/reset-password, /verify-email, /confirm-email) open their own view.
import { createClient } from "./api.js";
import { credentialJSON, creationOptions, requestOptions } from "./webauthn.js";

const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);
// A link's token, read once and taken out of the address bar (and of the history).
const route = { path: location.pathname.replace(/\/$/, "") || "/", token: query.get("token") };
if (route.token) {
  query.delete("token");
  history.replaceState(null, "", location.pathname + (String(query) ? `?${query}` : ""));
}

// The API: ?api= of this page's URL, else what the demo's server says (config.json),
// else port 8000 of this page's host. Page and API should be one *site* (localhost with
// localhost, 127.0.0.1 with 127.0.0.1) so that the SameSite cookie goes along.
async function apiBase() {
  if (query.get("api")) return query.get("api").replace(/\/$/, "");
  try {
    const config = await (await fetch("config.json", { cache: "no-store" })).json();
    if (config.api) return config.api.replace(/\/$/, "");
  } catch { /* a plain static server: no config.json */ }
  return `${location.protocol}//${location.hostname}:8000`;
}

const API = await apiBase();
let pendingLogin = null; // email and password while the second factor is asked for
let me = null;

const OUT_VIEWS = new Set(["sign-in", "mfa", "register", "forgot"]);

function show(view) {
  document.body.dataset.view = view;
  const focus = document.querySelector(`[data-view="${view}"] input`);
  if (focus && !focus.value) focus.focus();
}

function say(text) { $("notice").textContent = text; }

function render(state) {
  document.body.dataset.state = state.signedIn ? "signed-in" : "signed-out";
  $("state").textContent = state.signedIn ? (me ? me.email : "signed in") : "signed out";
  $("expires").textContent = state.signedIn ? new Date(state.expiresAt).toLocaleTimeString() : "-";
  $("refreshes").textContent = String(state.refreshes);
  $("scheme").textContent = state.signedIn ? state.scheme : "-";
  const view = document.body.dataset.view;
  if (state.signedIn && OUT_VIEWS.has(view)) show("account");
  if (!state.signedIn) {
    me = null;
    $("me").textContent = "";
    for (const id of ["sessions", "passkeys", "recovery-codes"]) $(id).replaceChildren();
    $("reauth").hidden = true;
    if (view === "account") show("sign-in");
  }
}

const client = createClient(API, render);

function element(tag, text, className) {
  const made = document.createElement(tag);
  if (text !== undefined) made.textContent = text;
  if (className) made.className = className;
  return made;
}

function button(label, action, id) {
  const made = element("button", label, "link");
  made.dataset.action = action;
  made.dataset.id = id;
  return made;
}

function describeAgent(agent) {
  if (!agent) return "Unknown device";
  const browser = /Edg\//.test(agent) ? "Edge" : /Chrom(e|ium)\//.test(agent) ? "Chrome"
    : /Firefox\//.test(agent) ? "Firefox" : /Safari\//.test(agent) ? "Safari" : agent.split(" ")[0];
  const system = /Windows/.test(agent) ? "Windows" : /Mac OS/.test(agent) ? "macOS"
    : /Android/.test(agent) ? "Android" : /iPhone|iPad/.test(agent) ? "iOS"
      : /Linux/.test(agent) ? "Linux" : "";
  return system ? `${browser} on ${system}` : browser;
}

function sessionItem(session) {
  const item = element("li");
  const text = element("div");
  text.append(element("strong", describeAgent(session.user_agent)),
              element("span", `${session.ip || "?"} · ${new Date(session.last_used_at).toLocaleString()}`,
                      "muted"));
  item.append(text, session.current ? element("span", "this device", "badge")
    : button("End session", "end-session", session.id));
  return item;
}

function passkeyItem(passkey) {
  const item = element("li");
  const used = passkey.last_used_at ? new Date(passkey.last_used_at).toLocaleString() : "never";
  const text = element("div");
  text.append(element("strong", passkey.name), element("span", ` · last used ${used}`, "muted"));
  item.append(text, button("Remove", "passkey-remove", passkey.id));
  return item;
}

function showMe(user) {
  me = user;
  $("me").textContent = JSON.stringify(user, null, 2);
  $("who").textContent = user.display_name || user.email;
  $("state").textContent = user.email;
  $("avatar").textContent = (user.display_name || user.email).slice(0, 1).toUpperCase();
  const badges = [[user.email, ""], [user.email_verified ? "verified" : "not verified",
                                     user.email_verified ? "ok" : "warn"],
                  ...user.roles.map((role) => [role, ""])];
  $("badges").replaceChildren(...badges.map(([text, kind]) => element("span", text,
                                                                       `badge ${kind}`)));
  $("verify-email").hidden = user.email_verified;
  $("totp-on").hidden = !user.mfa_enabled;
  $("totp-off").hidden = user.mfa_enabled || !$("totp-setup").hidden;
}

async function afterSignIn() {
  $("password").value = "";
  $("otp").value = "";
  pendingLogin = null;
  await actions.me();
  await Promise.all([actions.passkeys(), actions.sessions()]);
}

let retryTarget = null; // the button whose action asked for a recent sign-in

function askToReauthenticate(target, error) {
  retryTarget = target;
  $("reauth-why").textContent = `${error.message} Enter your password to go on.`;
  $("reauth-otp").hidden = !(me && me.mfa_enabled);
  $("reauth").hidden = false;
  $("reauth-password").focus();
}

async function retryAfterReauth() {
  $("reauth-password").value = "";
  $("reauth-otp").value = "";
  $("reauth").hidden = true;
  const target = retryTarget;
  retryTarget = null;
  if (target) await actions[target.dataset.action](target);
}

const actions = {
  show: (target) => show(target.dataset.view),
  home() {
    history.replaceState(null, "", "/" + location.search);
    show(client.signedIn() ? "account" : "sign-in");
  },

  // Sign in: a password, then the second factor when the account asks for one.
  async login() {
    const email = $("email").value.trim();
    const password = $("password").value;
    try {
      await client.login(email, password);
    } catch (error) {
      if (error.code !== "mfa_required") throw error;
      pendingLogin = { email, password };
      $("password").value = "";
      show("mfa");
      return;
    }
    await afterSignIn();
  },
  async "login-otp"() {
    if (!pendingLogin) { show("sign-in"); return; }
    await client.login(pendingLogin.email, pendingLogin.password, $("otp").value.trim());
    await afterSignIn();
  },
  async register() {
    const email = $("register-email").value.trim();
    const password = $("register-password").value;
    const body = { email, password };
    if ($("register-name").value.trim()) body.display_name = $("register-name").value.trim();
    await client.anonymous("POST", "/auth/register", body);
    $("register-password").value = "";
    await client.login(email, password);
    await afterSignIn();
    say(`Welcome! Your account ${email} is ready.`);
  },
  async forgot() {
    const email = $("forgot-email").value.trim();
    await client.anonymous("POST", "/auth/password-reset", { email });
    show("sign-in");
    $("email").value = email;
    say(`If ${email} has an account, a link to reset its password is on its way.`);
  },
  async reset() {
    await client.anonymous("POST", "/auth/password-reset/confirm",
                           { token: route.token, new_password: $("new-password").value });
    $("new-password").value = "";
    route.token = null;
    actions.home();
    say("Your password is changed and every session signed out: sign in with the new one.");
  },
  async confirm(path) {
    await client.anonymous("POST", path, { token: route.token });
    route.token = null;
    $("confirm-title").textContent = path === "/auth/verify-email/confirm"
      ? "Your email address is verified." : "Your new email address is confirmed.";
    if (client.signedIn()) await actions.me();
  },
  async "send-verification"() {
    await client.call("POST", "/auth/verify-email");
    say(`We sent a link to ${me ? me.email : "your address"}.`);
  },

  async me() { showMe(await client.call("GET", "/auth/me")); },
  async sessions() {
    const page = await client.call("GET", "/auth/sessions");
    $("sessions").replaceChildren(...page.items.map(sessionItem));
  },
  async "end-session"(target) {
    await client.call("DELETE", `/auth/sessions/${encodeURIComponent(target.dataset.id)}`);
    await actions.sessions();
  },

  // Passkeys: options from authapi, the ceremony in the browser, the credential back.
  async "passkey-login"() {
    const email = $("email").value.trim(); // none: any passkey of this site (discoverable)
    const { challenge_id, publicKey } = await client.anonymous(
      "POST", "/auth/passkeys/login/options", email ? { email } : {});
    const credential = await navigator.credentials.get({ publicKey: requestOptions(publicKey) });
    await client.signIn("/auth/passkeys/login/verify",
                        { challenge_id, credential: credentialJSON(credential) });
    await afterSignIn();
  },
  async "passkey-add"() {
    const { challenge_id, publicKey } = await client.call("POST",
                                                          "/auth/passkeys/register/options");
    const credential = await navigator.credentials.create({
      publicKey: creationOptions(publicKey) });
    const body = { challenge_id, credential: credentialJSON(credential) };
    if ($("passkey-name").value.trim()) body.name = $("passkey-name").value.trim();
    const added = await client.call("POST", "/auth/passkeys/register/verify", { body });
    $("passkey-name").value = "";
    await actions.passkeys();
    say(`Passkey "${added.name}" added.`);
  },
  async passkeys() {
    const page = await client.call("GET", "/auth/passkeys");
    $("passkeys").replaceChildren(...page.items.map(passkeyItem));
  },
  async "passkey-remove"(target) {
    await client.call("DELETE", `/auth/passkeys/${encodeURIComponent(target.dataset.id)}`);
    await actions.passkeys();
    say("Passkey removed.");
  },

  // Two-step verification (TOTP): a secret for the app, a code to turn it on.
  async "totp-setup"() {
    const { secret, otpauth_uri } = await client.call("POST", "/auth/mfa/totp/setup");
    $("totp-secret").textContent = secret.match(/.{1,4}/g).join(" ");
    $("totp-uri").href = otpauth_uri;
    $("totp-setup").hidden = false;
    $("totp-off").hidden = true;
    $("totp-code").focus();
  },
  async "totp-enable"() {
    const { recovery_codes } = await client.call("POST", "/auth/mfa/totp/enable",
                                                 { body: { otp: $("totp-code").value.trim() } });
    $("totp-code").value = "";
    $("totp-setup").hidden = true;
    $("recovery-codes").replaceChildren(...recovery_codes.map((code) => element("li", code)));
    $("totp-codes").hidden = false;
    await actions.me();
    say("Two-step verification is on.");
  },
  async "totp-disable"() {
    await client.call("POST", "/auth/mfa/totp/disable",
                      { body: { password: $("totp-password").value } });
    $("totp-password").value = "";
    $("totp-codes").hidden = true;
    await actions.me();
    say("Two-step verification is off.");
  },

  // A sensitive change after an old sign-in: prove it is you, then the change again.
  async reauth() {
    const body = { password: $("reauth-password").value };
    if (me && me.mfa_enabled) body.otp = $("reauth-otp").value.trim();
    await client.reauthenticate(body);
    await retryAfterReauth();
  },
  async "reauth-passkey"() {
    const { challenge_id, publicKey } = await client.anonymous(
      "POST", "/auth/passkeys/login/options", me ? { email: me.email } : {});
    const credential = await navigator.credentials.get({ publicKey: requestOptions(publicKey) });
    await client.reauthenticate({ challenge_id, credential: credentialJSON(credential) });
    await retryAfterReauth();
  },

  refresh: () => client.refresh(),
  logout: () => client.logout(),
};

// One error at a time, the server's own words (its problem `detail`), never a second
// error caused by the first.
document.addEventListener("click", async (event) => {
  const target = event.target.closest("[data-action]");
  if (!target || target.disabled) return;
  event.preventDefault();
  $("error").textContent = "";
  $("notice").textContent = "";
  target.disabled = true;
  try {
    await actions[target.dataset.action](target);
  } catch (error) {
    if (error.code === "insufficient_user_authentication" && !target.closest("#reauth")) {
      askToReauthenticate(target, error);
      return;
    }
    $("error").textContent = error.message;
    $("error").dataset.code = error.code || error.name || "error";
  } finally {
    target.disabled = false;
  }
});

async function openRoute() {
  const confirmations = { "/verify-email": "/auth/verify-email/confirm",
                          "/confirm-email": "/auth/email/confirm" };
  if (route.path === "/reset-password") {
    show("reset");
    if (!route.token) $("error").textContent = "This link has no token: ask for a new one.";
  } else if (confirmations[route.path]) {
    show("confirm");
    try {
      await actions.confirm(confirmations[route.path]);
    } catch (error) {
      $("confirm-title").textContent = "This link cannot be used.";
      $("error").textContent = error.message;
    }
  }
}

$("api").textContent = API;
// For scripts driving the page (the browser test): actions, a DPoP proof by this
// browser's key, and what that key is; never the tokens, never the key itself.
window.demo = { actions, signedIn: client.signedIn, proof: client.proof, key: client.key };
try {
  await openRoute();
  await client.resume();
  if (client.signedIn()) await afterSignIn();
} catch (error) {
  $("error").textContent = error.message;
} finally {
  document.body.dataset.ready = "true";
}
