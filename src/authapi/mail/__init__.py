"""Mail: templates, delivery and the outbox."""
