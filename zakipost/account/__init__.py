"""ZakiPost accounts: sign-up, the fixed key pair, plans."""
