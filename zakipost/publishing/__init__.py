"""The durable publish pipeline: a state machine persisted step by step, driven by jobs."""
