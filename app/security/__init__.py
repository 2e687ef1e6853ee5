"""Who is calling (API keys) and how often they may (rate limits)."""
