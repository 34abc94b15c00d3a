"""Accounts, roles and jurisdictions: who an account is, which role it holds, where."""
