"""The text `zakipost sandbox --port N` prints: where the emulator is and how to use it."""

from __future__ import annotations

from urllib.parse import urlencode

from .config import SandboxConfig


def describe(config: SandboxConfig, base_url: str) -> str:
    """A human summary of a sandbox served at `base_url` (its app, URLs and controls)."""
    base = base_url.rstrip("/") + "/"
    redirect = config.redirect_uris[0] if config.redirect_uris else "<register a redirect URI>"
    authorize = f"{base}v2/auth/authorize/?" + urlencode(
        {
            "client_key": config.client_key,
            "scope": ",".join(config.approved_scopes),
            "redirect_uri": redirect,
            "state": "demo",
            "response_type": "code",
        }
    )
    lines = [
        "TikTok sandbox: an offline emulator of TikTok's OAuth, Content Posting and Display APIs",
        "",
        f"  Base URL:       {base}",
        "                  (stands in for https://www.tiktok.com/ and https://open.tiktokapis.com/)",
        f"  Client key:     {config.client_key}",
        f"  Client secret:  {config.client_secret}",
        "  Redirect URIs:  " + ("\n                  ".join(config.redirect_uris) or "(none)"),
        f"  Authorize URL:  {authorize}",
        f"  Token URL:      {base}v2/oauth/token/",
        f"  Progression:    {config.progression}",
        f"  Audited app:    {'yes' if config.audited else 'no (SELF_ONLY posts, private accounts)'}",
        f"  Webhook URL:    {config.webhook_url or '(none)'}",
        "",
        "  Inspection and control:",
        f"    GET  {base}_sandbox/posts             what TikTok received",
        f"    GET  {base}_sandbox/creators          sandbox accounts (POST to add one)",
        f"    POST {base}_sandbox/tokens            a token without the consent page",
        f"    GET  {base}_sandbox/webhooks          webhook deliveries",
        f"    GET  {base}_sandbox/clock             the clock (POST .../clock/advance)",
        f"    GET  {base}_sandbox/faults            injected faults",
        f"    POST {base}_sandbox/reset             back to the first state",
        f"    GET  {base}_sandbox/                  every control endpoint",
    ]
    return "\n".join(lines) + "\n"
