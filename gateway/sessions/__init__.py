"""Web sessions: a browser participant in a LiveKit room with the project's agent (`POST /v1/sessions/start`)."""
