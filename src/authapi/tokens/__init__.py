"""What a token is and whether it is valid (a pure core), keys, revocation state, DPoP."""
