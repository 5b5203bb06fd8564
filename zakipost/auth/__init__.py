"""Who is calling: API credentials for /v1, sessions for the dashboard."""
