// panva's openid-client (an OpenID-certified relying party) signs a user in to an app
// through a live authapi: discovery, PAR, authorization code + PKCE, DPoP, the ID token
// checks, userinfo and refresh. The browser's part (sign-in, consent) goes through
// authapi's headless JSON API, carrying the cookies a browser would.
//
//   node openid_client.mjs <issuer> <client_id> <client_secret> <redirect_uri> <email> <password>
//
// Prints one JSON line with what it saw; any failed check throws (exit status 1).
import * as client from "openid-client";

const [issuer, clientId, clientSecret, redirectUri, email, password] = process.argv.slice(2);
const config = await client.discovery(new URL(issuer), clientId, clientSecret, undefined, {
  execute: [client.allowInsecureRequests], // the test server speaks http on loopback
});
const dpop = client.getDPoPHandle(config, await client.randomDPoPKeyPair("ES256"));

const verifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const nonce = client.randomNonce();
const authorizeUrl = await client.buildAuthorizationUrlWithPAR(config, {
  redirect_uri: redirectUri, scope: "openid email profile offline_access",
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: "S256", state, nonce,
}, { DPoP: dpop });

// The browser: a cookie jar of its own, redirects followed by hand.
const jar = new Map();
const keep = (response) => {
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(";");
    const at = pair.indexOf("=");
    jar.set(pair.slice(0, at), pair.slice(at + 1));
  }
  return response;
};
const cookie = () => [...jar].map(([name, value]) => `${name}=${value}`).join("; ");
const browse = async (url, body) => keep(await fetch(url, {
  method: body ? "POST" : "GET", redirect: "manual",
  headers: { cookie: cookie(), ...(body ? { "content-type": "application/json" } : {}) },
  body: body ? JSON.stringify(body) : undefined,
}));

const toLogin = await browse(authorizeUrl.href);
if (toLogin.status !== 302) throw new Error(`authorize answered ${toLogin.status}`);
const requestId = new URL(toLogin.headers.get("location")).searchParams.get("request");
const requests = new URL(`/oauth/requests/${requestId}`, issuer).href;
let step = await (await browse(`${requests}/login`, { email, password })).json();
const pending = await (await browse(requests)).json();
if (pending.needs === "consent") {
  step = await (await browse(`${requests}/consent`, { approve: true })).json();
}

const tokens = await client.authorizationCodeGrant(config, new URL(step.redirect_to), {
  pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce,
  idTokenExpected: true,
}, undefined, { DPoP: dpop });
const claims = tokens.claims();
const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub, { DPoP: dpop });
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined,
                                                 { DPoP: dpop });
console.log(JSON.stringify({
  token_type: tokens.token_type, refreshed_type: refreshed.token_type,
  sub: claims.sub, email: info.email, acr: claims.acr, amr: claims.amr,
  scope: tokens.scope, refreshed: refreshed.access_token !== tokens.access_token,
  consented: pending.needs === "consent",
}));
