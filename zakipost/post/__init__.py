"""The public publish API (the contract: shared product docs, ``POST /v1/tiktok/publish``)."""
