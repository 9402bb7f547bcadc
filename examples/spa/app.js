// The demo page: each button names an action (data-action); a new feature is one more
// entry in `actions` and one more button.
import { createClient } from "./api.js";
import { credentialJSON, creationOptions, requestOptions } from "./webauthn.js";

// The API on port 8000 of this page's own host by default, so that both are one *site*
// (localhost with localhost, 127.0.0.1 with 127.0.0.1) and the SameSite cookie goes along.
const API = new URLSearchParams(location.search).get("api")
  || `${location.protocol}//${location.hostname}:8000`;
const $ = (id) => document.getElementById(id);

function render(state) {
  document.body.dataset.state = state.signedIn ? "signed-in" : "signed-out";
  $("state").textContent = state.signedIn ? "signed in" : "signed out";
  $("expires").textContent = state.signedIn ? new Date(state.expiresAt).toLocaleTimeString() : "-";
  $("refreshes").textContent = String(state.refreshes);
  $("scheme").textContent = state.signedIn ? state.scheme : "-";
  if (!state.signedIn) {
    for (const id of ["me", "notice"]) $(id).textContent = "";
    for (const id of ["sessions", "passkeys"]) $(id).replaceChildren();
  }
}

const client = createClient(API, render);
const say = (text) => { $("notice").textContent = text; };

function button(label, action, id) {
  const made = Object.assign(document.createElement("button"), { textContent: label });
  made.dataset.action = action;
  made.dataset.id = id;
  return made;
}

function sessionItem(session) {
  const item = document.createElement("li");
  const when = new Date(session.last_used_at).toLocaleString();
  item.textContent = `${session.user_agent || "unknown agent"} · ${session.ip || "?"} · ${when} `;
  item.append(session.current
    ? Object.assign(document.createElement("strong"), { textContent: "(this one)" })
    : button("End session", "end-session", session.id));
  return item;
}

function passkeyItem(passkey) {
  const item = document.createElement("li");
  const used = passkey.last_used_at ? new Date(passkey.last_used_at).toLocaleString() : "never";
  item.textContent = `${passkey.name} · last used ${used} `;
  item.append(button("Remove", "passkey-remove", passkey.id));
  return item;
}

const actions = {
  async login() {
    await client.login($("email").value, $("password").value);
    $("password").value = "";
    await actions.me();
  },
  async me() {
    $("me").textContent = JSON.stringify(await client.call("GET", "/auth/me"), null, 2);
  },
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
    $("password").value = "";
    await actions.me();
  },
  async "passkey-add"() {
    const { challenge_id, publicKey } = await client.call("POST",
                                                          "/auth/passkeys/register/options");
    const credential = await navigator.credentials.create({
      publicKey: creationOptions(publicKey) });
    const body = { challenge_id, credential: credentialJSON(credential) };
    if ($("passkey-name").value.trim()) body.name = $("passkey-name").value.trim();
    const added = await client.call("POST", "/auth/passkeys/register/verify", { body });
    await actions.passkeys();
    say(`passkey "${added.name}" added`);
  },
  async passkeys() {
    const page = await client.call("GET", "/auth/passkeys");
    $("passkeys").replaceChildren(...page.items.map(passkeyItem));
  },
  async "passkey-remove"(target) {
    await client.call("DELETE", `/auth/passkeys/${encodeURIComponent(target.dataset.id)}`);
    await actions.passkeys();
    say("passkey removed");
  },
  refresh: () => client.refresh(),
  logout: () => client.logout(),
};

document.addEventListener("click", async (event) => {
  const target = event.target.closest("[data-action]");
  if (!target) return;
  event.preventDefault();
  $("error").textContent = "";
  try {
    await actions[target.dataset.action](target);
  } catch (error) {
    $("error").textContent = error.message;
  }
});

$("api").textContent = API;
// For scripts driving the page (the browser test): actions, a DPoP proof by this
// browser's key, and what that key is; never the tokens, never the key itself.
window.demo = { actions, signedIn: client.signedIn, proof: client.proof, key: client.key };
client.resume();
