// WebAuthn's JSON forms (Level 3) both ways: the options authapi sends to what
// navigator.credentials wants, and the credential it returns to the JSON authapi reads.
// Browsers with PublicKeyCredential.parse*FromJSON and toJSON() use them; for the others,
// the same conversion by hand (binary members travel as unpadded base64url).
import { b64url } from "./dpop.js";

function bytes(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "===".slice((base64.length + 3) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

const descriptors = (list) => (list || []).map((item) => ({ ...item, id: bytes(item.id) }));
const native = globalThis.PublicKeyCredential || {};

export function creationOptions(json) {
  if (native.parseCreationOptionsFromJSON) return native.parseCreationOptionsFromJSON(json);
  return { ...json, challenge: bytes(json.challenge),
           user: { ...json.user, id: bytes(json.user.id) },
           excludeCredentials: descriptors(json.excludeCredentials) };
}

export function requestOptions(json) {
  if (native.parseRequestOptionsFromJSON) return native.parseRequestOptionsFromJSON(json);
  return { ...json, challenge: bytes(json.challenge),
           allowCredentials: descriptors(json.allowCredentials) };
}

export function credentialJSON(credential) {
  if (typeof credential.toJSON === "function") return credential.toJSON();
  const answer = credential.response;
  const response = { clientDataJSON: b64url(answer.clientDataJSON) };
  if (answer.attestationObject) { // registration
    response.attestationObject = b64url(answer.attestationObject);
    response.transports = answer.getTransports ? answer.getTransports() : [];
  } else { // sign-in
    response.authenticatorData = b64url(answer.authenticatorData);
    response.signature = b64url(answer.signature);
    if (answer.userHandle) response.userHandle = b64url(answer.userHandle);
  }
  return { id: credential.id, rawId: b64url(credential.rawId), type: credential.type,
           authenticatorAttachment: credential.authenticatorAttachment || undefined,
           clientExtensionResults: credential.getClientExtensionResults(), response };
}
