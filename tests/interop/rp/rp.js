// A single-page app of another team, signing its users in with authapi through
// oidc-client-ts (what React and Angular apps use): code + PKCE, then renewal by the
// refresh token. The test reads window.rp and the body's data-state.
const given = new URLSearchParams(location.search);
if (given.has("authority")) {
  sessionStorage.setItem("authority", given.get("authority"));
  sessionStorage.setItem("client_id", given.get("client_id"));
}
const manager = new oidc.UserManager({
  authority: sessionStorage.getItem("authority"),
  client_id: sessionStorage.getItem("client_id"),
  redirect_uri: `${location.origin}/rp/index.html`,
  response_type: "code",
  scope: "openid email offline_access",
  loadUserInfo: true,
  automaticSilentRenew: false,
  userStore: new oidc.WebStorageStateStore({ store: sessionStorage }),
});

window.rp = {
  signIn: () => manager.signinRedirect(),
  renew: async () => {
    const user = await manager.signinSilent(); // with a refresh token: the refresh grant
    return { access_token: user.access_token, expires_at: user.expires_at };
  },
  user: async () => {
    const user = await manager.getUser();
    return user && { sub: user.profile.sub, email: user.profile.email,
                     access_token: user.access_token, has_refresh: !!user.refresh_token,
                     scope: user.scope };
  },
};

if (given.has("code") || given.has("error")) {
  manager.signinRedirectCallback().then(async (user) => {
    document.getElementById("who").textContent = user.profile.email;
    history.replaceState(null, "", "/rp/index.html");
    document.body.dataset.state = "signed-in";
  }, (error) => {
    document.getElementById("who").textContent = String(error);
    document.body.dataset.state = "error";
  });
} else {
  document.body.dataset.state = "ready";
}
