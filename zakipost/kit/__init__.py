"""Small domain-free helpers: clock, ids, crypto, streaming."""
