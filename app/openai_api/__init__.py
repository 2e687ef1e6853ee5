"""An OpenAI-compatible API (``/v1``) over the same grounded chain, for OpenAI clients and chat UIs.

Open WebUI, LibreChat, the ``openai`` package and LangChain's ``ChatOpenAI`` only speak OpenAI's
protocol; this package translates it to and from the chain that ``/chat`` uses, and nothing more:
schemas (what clients send and get), the conversation a client holds (question and history), the
numbered citations, the streamed chunks, the error dialect, and the routes that tie them together.
"""
