"""Server-rendered pages of the hub: sign-in with TOTP, home, and the auditor's page."""
