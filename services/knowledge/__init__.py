"""The FootCDS knowledge base: YAML data plus the pydantic models that validate it."""

from services.knowledge.loader import DISCLAIMER, KnowledgeBase, KnowledgeBaseError, knowledge_base

__all__ = ["DISCLAIMER", "KnowledgeBase", "KnowledgeBaseError", "knowledge_base"]
