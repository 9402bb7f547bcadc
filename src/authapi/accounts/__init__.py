"""Users, passwords, mail links, MFA, passkeys, sign-in with OpenID Connect providers."""
