"""The grounded prompt, kept apart so it can be read and reviewed on its own.

The wording of the rules is the seed tutorial's (part of our public contract). The rules and the
context go in the system message and the question alone in the user turn: measured with
SmolLM2-135M, a single user message made the model echo the template ("Question: ... Answer:") and
fall back on its built-in persona, while this split kept it on the context.
"""

from __future__ import annotations

from langchain_core.prompts import ChatPromptTemplate
from rag_core.settings import REFUSAL

RAG_SYSTEM = f"""You are a private assistant.

Rules:
- Answer ONLY using the provided context.
- If the answer is not in the context, say:
  "{REFUSAL}"

Context:
{{context}}"""

RAG_PROMPT = ChatPromptTemplate.from_messages([("system", RAG_SYSTEM), ("human", "{question}")])

CONDENSE_TEMPLATE = """Rewrite the follow-up question as one standalone question, using the
conversation only to resolve what the follow-up refers to. Reply with the question only.

Conversation:
{history}

Follow-up question: {question}

Standalone question:"""

CONDENSE_PROMPT = ChatPromptTemplate.from_messages([("human", CONDENSE_TEMPLATE)])
