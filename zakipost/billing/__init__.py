"""Plans (what an account may do) and points (what it can spend)."""
