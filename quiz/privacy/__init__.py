"""Personal data: encryption and keyed hashes, key rotation, retention, backups."""
