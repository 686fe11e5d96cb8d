""""Did you mean …?": the question the NLU offers when it is not sure enough to answer.

When a message falls back although the FAQ answers' classifier leaned towards one answer
(``bot/components/faq_selector.py``), the parse carries that answer's best-known question in
each language under :data:`SUGGESTION`. The fallback action (``actions/fallback.py``) offers it
as a button; tapping it sends that question, which the bot answers. The bot writes the key and
the actions read it, so both take it from here.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

__all__ = ["SUGGESTION", "make_suggestion", "suggested_question"]

SUGGESTION = "suggestion"
"""The parse-data key (beside ``intent`` and ``response_selector``)."""


def make_suggestion(answer: str, confidence: float, questions: Mapping[str, str]) -> Dict[str, Any]:
    """The value written under :data:`SUGGESTION`.

    Args:
        answer: The answer the question leads to (``faq/returns_policy``).
        confidence: The classifier's probability of that answer for the message.
        questions: Language → the question offered in it.
    """
    return {"answer": answer, "confidence": round(float(confidence), 4), "questions": dict(questions)}


def suggested_question(parse_data: Optional[Mapping[str, Any]], language: str) -> Optional[str]:
    """The question a parse offers in ``language``, or None when it offers none in that language."""
    suggestion = (parse_data or {}).get(SUGGESTION)
    if not isinstance(suggestion, Mapping):
        return None
    questions = suggestion.get("questions")
    question = questions.get(language) if isinstance(questions, Mapping) else None
    return question.strip() if isinstance(question, str) and question.strip() else None
