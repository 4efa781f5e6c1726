"""Keys kept outside the database: the secret-column keyring and the audit chain's HMAC key."""
