"""Public disclosure of where and when people may have been exposed (issue 7)."""
