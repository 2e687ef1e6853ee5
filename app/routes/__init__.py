"""Routes we own beside LangServe's: seed-compatible chat and health."""
