"""Request plumbing: sessions per request, errors, compression, health checks."""
