"""Administration: users, roles and permissions."""
