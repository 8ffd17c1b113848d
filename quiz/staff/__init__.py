"""Staff accounts: authentication, second factor, audit log."""
