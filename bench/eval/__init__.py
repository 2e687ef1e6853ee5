"""Retrieval and refusal evaluation on any folder of documents and a question file."""
