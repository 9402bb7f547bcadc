// The device page: sign in (the same account sign-in as /auth/login), type the code the
// device shows, see which app asks for what, and allow or cancel. No outside scripts.
const $ = (id) => document.getElementById(id);
let token = "";
let code = new URLSearchParams(location.search).get("user_code") || "";
const WORDS = {
  openid: "Know who you are", profile: "See your name", email: "See your email address",
  offline_access: "Stay connected while you are away",
};
const describe = (scope) => WORDS[scope] || (scope.includes(":")
  ? `${scope.split(":")[1]} your ${scope.split(":")[0]} (${scope})` : scope);

function show(section) {
  for (const id of ["login", "code", "consent", "done"]) $(id).hidden = id !== section;
  $("error").hidden = true;
}
function fail(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}
const post = (path, body) => fetch(path, {
  method: "POST", headers: { "Content-Type": "application/json",
                             ...(token ? { Authorization: `Bearer ${token}` } : {}) },
  body: JSON.stringify(body),
});
const detail = async (response) => {
  try { return await response.json(); } catch { return {}; }
};

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { email: $("email").value, password: $("password").value };
  if ($("otp").value) body.otp = $("otp").value;
  const response = await post("/auth/login", body);
  if (!response.ok) {
    const problem = await detail(response);
    if (problem.code === "mfa_required") {
      $("otp-step").hidden = false;
      $("otp").focus();
      return fail("Enter the code from your authenticator app.");
    }
    return fail(problem.detail || "That did not work. Try again.");
  }
  token = (await response.json()).access_token;
  show("code");
  $("user-code").value = code;
  $("user-code").focus();
});

$("code-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  code = $("user-code").value;
  const response = await post("/oauth/device/verify", { user_code: code });
  if (!response.ok) return fail((await detail(response)).detail || "No such code.");
  const asked = await response.json();
  $("client").textContent = asked.client.name;
  $("scopes").replaceChildren(...asked.scopes.map((scope) => {
    const item = document.createElement("li");
    item.textContent = describe(scope);
    return item;
  }));
  show("consent");
  $("approve").focus();
});

async function answer(approve) {
  const response = await post("/oauth/device/approve", { user_code: code, approve });
  if (!response.ok) return fail((await detail(response)).detail || "That did not work.");
  show("done");
  $("outcome").textContent = approve ? "Device connected" : "Cancelled";
}
$("approve").addEventListener("click", () => answer(true));
$("deny").addEventListener("click", () => answer(false));
$("email").focus();
