"""ASGI middleware that must see every request, LangServe's included: body size, access control."""
