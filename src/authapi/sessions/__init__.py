"""Logins, the refresh chain and its grace window."""
