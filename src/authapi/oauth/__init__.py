"""OAuth 2 clients, client authentication and the token endpoint's grants."""
