"""The read API at /api/v1/: JSON for scripts and tools, with a session or a personal token."""
