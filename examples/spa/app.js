// The demo page: each button names an action (data-action); a new feature, such as a
// passkey or a DPoP button, is one more entry in `actions` and one more button.
import { createClient } from "./api.js";

const API = new URLSearchParams(location.search).get("api") || "http://127.0.0.1:8000";
const $ = (id) => document.getElementById(id);

function render(state) {
  document.body.dataset.state = state.signedIn ? "signed-in" : "signed-out";
  $("state").textContent = state.signedIn ? "signed in" : "signed out";
  $("expires").textContent = state.signedIn ? new Date(state.expiresAt).toLocaleTimeString() : "-";
  $("refreshes").textContent = String(state.refreshes);
  if (!state.signedIn) {
    $("me").textContent = "";
    $("sessions").replaceChildren();
  }
}

const client = createClient(API, render);

function sessionItem(session) {
  const item = document.createElement("li");
  const when = new Date(session.last_used_at).toLocaleString();
  item.textContent = `${session.user_agent || "unknown agent"} · ${session.ip || "?"} · ${when} `;
  if (session.current) {
    item.append(Object.assign(document.createElement("strong"), { textContent: "(this one)" }));
  } else {
    const end = Object.assign(document.createElement("button"), { textContent: "End session" });
    end.dataset.action = "end-session";
    end.dataset.id = session.id;
    item.append(end);
  }
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
  async "end-session"(button) {
    await client.call("DELETE", `/auth/sessions/${encodeURIComponent(button.dataset.id)}`);
    await actions.sessions();
  },
  refresh: () => client.refresh(),
  logout: () => client.logout(),
};

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-action]");
  if (!button) return;
  event.preventDefault();
  $("error").textContent = "";
  try {
    await actions[button.dataset.action](button);
  } catch (error) {
    $("error").textContent = error.message;
  }
});

$("api").textContent = API;
// For scripts driving the page (the browser test): actions, never the tokens.
window.demo = { actions, signedIn: client.signedIn };
client.resume();
