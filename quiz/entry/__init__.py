"""Public entry: consent, registration and resuming an entry."""
