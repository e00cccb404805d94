"""The desk's logic, below the web pages: editors' sign-in and sessions, the audit trail."""
