"""Conversations and API keys in one SQL database (SQLite file by default, PostgreSQL when configured)."""
