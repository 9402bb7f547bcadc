// The built-in sign-in and consent page: it drives the same JSON API a team's own page
// would (/oauth/requests/{id}, /login, /passkey, /consent). No outside scripts.
const request = new URLSearchParams(location.search).get("request") || "";
const api = (path, body) => fetch(`/oauth/requests/${encodeURIComponent(request)}${path}`, {
  method: body === undefined ? "GET" : "POST", credentials: "same-origin",
  headers: body === undefined ? {} : { "Content-Type": "application/json" },
  body: body === undefined ? undefined : JSON.stringify(body),
});
const $ = (id) => document.getElementById(id);
const WORDS = {
  openid: "Know who you are on this site",
  profile: "See your name",
  email: "See your email address",
  offline_access: "Keep you signed in while you are away",
};
const describe = (scope) => WORDS[scope] || (scope.includes(":")
  ? `${scope.split(":")[1]} your ${scope.split(":")[0]} (${scope})` : scope);

function show(section) {
  for (const id of ["loading", "login", "consent", "done"]) $(id).hidden = id !== section;
}
function fail(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}
async function problem(response) {
  try { return await response.json(); } catch { return {}; }
}

async function next(response) {
  if (!response.ok) {
    const body = await problem(response);
    if (body.code === "mfa_required") {
      $("otp-step").hidden = false;
      $("otp").focus();
      return fail("Enter the code from your authenticator app.");
    }
    return fail(body.detail || "That did not work. Try again.");
  }
  const { redirect_to: target } = await response.json();
  if (target.includes(`request=${encodeURIComponent(request)}`)) return load();
  show("done");
  location.assign(target);
}

async function load() {
  const response = await api("");
  if (!response.ok) { show("loading"); return fail("This sign-in link expired. Start again from the app."); }
  const pending = await response.json();
  for (const node of document.querySelectorAll("[data-field=client]")) {
    node.textContent = pending.client.name;
  }
  $("error").hidden = true;
  if (pending.needs === "consent") {
    $("scopes").replaceChildren(...pending.scopes.map((scope) => {
      const item = document.createElement("li");
      item.textContent = describe(scope);
      return item;
    }));
    show("consent");
    $("approve").focus();
  } else {
    if (pending.login_hint && !$("email").value) $("email").value = pending.login_hint;
    show("login");
    $(pending.login_hint ? "password" : "email").focus();
    // The app asked for a stronger sign-in (acr_values) than the one made.
    if (pending.needs === "mfa") fail("This app asks for a stronger sign-in: use your passkey, or your password with a code from your authenticator app.");
  }
}

$("password-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { email: $("email").value, password: $("password").value };
  if ($("otp").value) body.otp = $("otp").value;
  await next(await api("/login", body));
});

function bytes(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(base64 + "===".slice((base64.length + 3) % 4)), (c) => c.charCodeAt(0));
}
const b64url = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer)))
  .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

$("passkey").addEventListener("click", async () => {
  const options = await fetch("/auth/passkeys/login/options", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify($("email").value ? { email: $("email").value } : {}),
  });
  if (!options.ok) return fail("Passkeys are not available right now.");
  const { challenge_id: challengeId, publicKey } = await options.json();
  let credential;
  try {
    credential = await navigator.credentials.get({ publicKey: { ...publicKey,
      challenge: bytes(publicKey.challenge),
      allowCredentials: (publicKey.allowCredentials || []).map((c) => ({ ...c, id: bytes(c.id) })) } });
  } catch {
    return fail("The passkey was not used.");
  }
  const answer = credential.response;
  const json = { id: credential.id, rawId: b64url(credential.rawId), type: credential.type,
    clientExtensionResults: credential.getClientExtensionResults(),
    response: { clientDataJSON: b64url(answer.clientDataJSON),
      authenticatorData: b64url(answer.authenticatorData), signature: b64url(answer.signature),
      ...(answer.userHandle ? { userHandle: b64url(answer.userHandle) } : {}) } };
  await next(await api("/passkey", { challenge_id: challengeId, credential: json }));
});

$("approve").addEventListener("click", async () => next(await api("/consent", { approve: true })));
$("deny").addEventListener("click", async () => next(await api("/consent", { approve: false })));

load();
