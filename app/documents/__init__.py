"""Documents over HTTP: upload, follow the ingest job, list, delete (owner-scoped like retrieval)."""
