"""The tamper-evident audit log: every access and every view of personal data."""
