"""TikTok's webhooks in: ``POST /tiktok/webhook`` verifies, deduplicates and applies them."""
