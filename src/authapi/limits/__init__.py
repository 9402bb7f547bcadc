"""Rate limits and the login lockout."""
