"""Connected TikTok accounts: the consent flow, the token vault and refresh."""
