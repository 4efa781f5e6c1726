"""HTTP plumbing shared by every controller: problem responses, request ids, auth, pagination."""
