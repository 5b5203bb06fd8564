"""Named, revocable bearer keys, beside the account's fixed pair."""
