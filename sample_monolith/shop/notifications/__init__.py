"""Notifications domain: message templates and the email/SMS outbox."""
