"""Shared foundation of ingest and serving: settings, names and the store/embedding factories."""

from rag_core.settings import REFUSAL, Settings, SettingsError, get_settings, load_settings

__all__ = ["REFUSAL", "Settings", "SettingsError", "get_settings", "load_settings"]
