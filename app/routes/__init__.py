"""Routes we own beside LangServe's: seed-compatible chat, sessions, health, readiness, metrics."""
