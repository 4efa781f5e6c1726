"""Network access on a tenant's behalf."""
