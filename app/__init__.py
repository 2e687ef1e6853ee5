"""HTTP layer: FastAPI app publishing the RAG chain with LangServe, plus seed-compatible routes."""
