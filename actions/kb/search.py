"""Ranking knowledge-base articles for a customer's question.

BM25 over each article's title, tags and body, in the customer's language.
Words are cut by spaCy's tokenizer for that language and its stop words are
dropped; Hebrew words are also matched without their one-letter prefixes
(ו, ה, ב, ל, מ, ש, כ) and plural endings, English words without their common
suffixes, so "והמשלוחים" finds "משלוח" and "refunds" finds "refund".
"""

from __future__ import annotations

import asyncio
import math
import re
from abc import ABC, abstractmethod
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Dict, FrozenSet, List, Optional, Sequence

from core.articles import Article, load_articles

if TYPE_CHECKING:
    import spacy.language

__all__ = ["InMemoryKnowledgeBase", "KnowledgeBase", "SearchHit", "analyze"]

_NIQQUD = re.compile(r"[\u0591-\u05c7]")
_FINALS = str.maketrans("ךםןףץ", "כמנפצ")
_HE_PREFIXES = "והבלמשכ"
_TITLE_WEIGHT = 3.0
_TAG_WEIGHT = 3.0
_K1 = 1.2
_B = 0.75
_BM25_WEIGHT = 0.02
_RELATED_SHARE = 0.7


@lru_cache(maxsize=2)
def _nlp(language: str) -> spacy.language.Language:
    import spacy  # noqa: PLC0415 - heavy; only the action server ranks articles

    return spacy.blank(language)


def _hebrew_variants(word: str) -> FrozenSet[str]:
    word = _NIQQUD.sub("", word).translate(_FINALS).replace("׳", "").replace('"', "")
    forms = {word}
    stem = word
    for _ in range(3):  # "וכשה..." has up to three prefix letters
        if len(stem) > 3 and stem[0] in _HE_PREFIXES:
            stem = stem[1:]
            forms.add(stem)
    for form in list(forms):
        for suffix in ("ימ", "ות", "ה", "ת"):  # after final-letter folding, ים is ימ
            if len(form) > len(suffix) + 2 and form.endswith(suffix):
                forms.add(form[: -len(suffix)])
    return frozenset(forms)


def _english_variants(word: str) -> FrozenSet[str]:
    word = word.lower().replace("’", "'").removesuffix("'s")
    forms = {word}
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""), ("ly", "")):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            forms.add(word[: -len(suffix)] + repl)
    return frozenset(forms)


def analyze(text: str, language: str) -> List[FrozenSet[str]]:
    """Splits a text into content words, each with its matching forms.

    Args:
        text: Any text.
        language: ``"he"`` or ``"en"``.

    Returns:
        One set of forms per content word (stop words, punctuation, numbers,
        e-mails and links are left out).
    """
    nlp = _nlp(language)
    words: List[FrozenSet[str]] = []
    for token in nlp.make_doc(text):
        if (
            token.is_stop
            or token.is_punct
            or token.is_space
            or token.like_num
            or token.like_email
            or token.like_url
            or len(token.text) < 2
            or token.lower_ in nlp.Defaults.stop_words
        ):
            continue
        variants = _hebrew_variants(token.text) if language == "he" else _english_variants(token.text)
        words.append(variants)
    return words


@dataclass(frozen=True)
class SearchHit:
    """An article that answers a question, with how well it does."""

    article: Article
    score: float
    snippet: str


class KnowledgeBase(ABC):
    """Finds the articles that answer a customer's question."""

    @abstractmethod
    async def search(
        self, query: str, language: str, limit: int = 3, min_score: Optional[float] = None
    ) -> List[SearchHit]:
        """Returns the relevant articles, best first; empty when none is relevant.

        Args:
            query: The customer's words.
            language: ``"he"`` or ``"en"``; articles of that language are searched.
            limit: At most this many hits.
            min_score: A stricter bar than the knowledge base's own, for callers
                that already doubt the question is for the help centre.
        """


class _Index:
    """Ranking statistics of one language's articles.

    Two signals are summed: the cosine of character n-gram TF-IDF vectors
    (robust to typos and to Hebrew's attached prefixes and endings) and BM25
    over content words (rewards the rare words a question shares with an
    article). Title and tags count three times.
    """

    def __init__(self, articles: Sequence[Article], language: str) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: PLC0415 - heavy; action server only

        self.articles = list(articles)
        self.language = language
        self.term_freqs: List[Dict[str, float]] = []
        lengths = []
        for article in self.articles:
            tf: Dict[str, float] = defaultdict(float)
            length = 0.0
            for text, weight in self._fields(article):
                for forms in analyze(text, language):
                    length += weight
                    for form in forms:
                        tf[form] += weight
            self.term_freqs.append(tf)
            lengths.append(length)
        self.avg_length = (sum(lengths) / len(lengths)) if lengths else 1.0
        self.lengths = lengths
        n = len(self.articles)
        doc_freq: Counter[str] = Counter()
        for tf in self.term_freqs:
            doc_freq.update(tf.keys())
        self.idf = {
            term: math.log(1 + (n - df + 0.5) / (df + 0.5)) for term, df in doc_freq.items()
        }
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
        self.doc_vectors = self.vectorizer.fit_transform(
            [
                " ".join(" ".join([text] * int(weight)) for text, weight in self._fields(a)).lower()
                for a in self.articles
            ]
        ) if self.articles else None

    @staticmethod
    def _fields(article: Article) -> List[tuple[str, float]]:
        return [
            (article.title, _TITLE_WEIGHT),
            (" ".join(article.tags), _TAG_WEIGHT),
            (article.body, 1.0),
        ]

    def _bm25(self, doc: int, words: List[FrozenSet[str]]) -> float:
        norm = _K1 * (1 - _B + _B * self.lengths[doc] / self.avg_length)
        score = 0.0
        for forms in words:
            best = 0.0
            for form in forms:
                tf = self.term_freqs[doc].get(form, 0.0)
                if tf:
                    best = max(best, self.idf[form] * tf * (_K1 + 1) / (tf + norm))
            score += best
        return score

    def rank(self, query: str) -> List[tuple[int, float]]:
        """Scores every article for a question, best first."""
        if self.doc_vectors is None:
            return []
        words = analyze(query, self.language)
        cosines = (self.vectorizer.transform([query.lower()]) @ self.doc_vectors.T).toarray()[0]
        scored = [
            (doc, float(cosines[doc]) + _BM25_WEIGHT * self._bm25(doc, words))
            for doc in range(len(self.articles))
        ]
        scored.sort(key=lambda r: r[1], reverse=True)
        return scored


def _best_snippet(article: Article, query: str, language: str, max_chars: int) -> str:
    """The article's summary, unless another paragraph matches the question better."""
    wanted = set().union(*analyze(query, language)) if query else set()
    best = article.summary
    best_overlap = 0
    for paragraph in article.paragraphs:
        forms = set().union(*analyze(paragraph, language)) if paragraph else set()
        overlap = len(wanted & forms)
        if overlap > best_overlap + 1:  # prefer the summary unless clearly beaten
            best, best_overlap = paragraph, overlap
    if len(best) <= max_chars:
        return best
    cut = best[:max_chars].rsplit(" ", 1)[0]
    return cut.rstrip(",;:-–") + "…"


class InMemoryKnowledgeBase(KnowledgeBase):
    """Articles read from Markdown files and ranked in memory.

    Attributes:
        min_score: Lowest score that counts as an answer. 0.18 was chosen on
            tests/fixtures/kb_questions.yml: it answers most customer questions
            and almost none of the unrelated ones, in both languages.
    """

    def __init__(
        self,
        kb_dir: Optional[Path] = None,
        articles: Optional[Dict[str, List[Article]]] = None,
        min_score: float = 0.18,
        snippet_chars: int = 240,
    ) -> None:
        """Creates the knowledge base; files are read on the first search.

        Args:
            kb_dir: Folder with ``he/`` and ``en/`` articles.
            articles: Articles by language, instead of ``kb_dir`` (tests).
            min_score: See the class attributes.
            snippet_chars: Longest snippet shown in chat.
        """
        if kb_dir is None and articles is None:
            raise ValueError("give kb_dir or articles")
        self._kb_dir = kb_dir
        self._articles = articles
        self._indexes: Optional[Dict[str, _Index]] = None
        self._lock = asyncio.Lock()
        self.min_score = min_score
        self.snippet_chars = snippet_chars

    def _build(self) -> Dict[str, _Index]:
        articles = self._articles
        if articles is None:
            assert self._kb_dir is not None
            articles = load_articles(self._kb_dir)
        return {language: _Index(items, language) for language, items in articles.items()}

    async def indexes(self) -> Dict[str, _Index]:
        """The per-language indexes, built once (in a thread: it reads files)."""
        if self._indexes is None:
            async with self._lock:
                if self._indexes is None:
                    self._indexes = await asyncio.to_thread(self._build)
        return self._indexes

    async def search(
        self, query: str, language: str, limit: int = 3, min_score: Optional[float] = None
    ) -> List[SearchHit]:
        """See :meth:`KnowledgeBase.search`."""
        index = (await self.indexes()).get(language)
        if index is None or not query.strip():
            return []
        bar = max(self.min_score, min_score or 0.0)
        ranked = index.rank(query)
        if not ranked or ranked[0][1] < bar:
            return []
        best = ranked[0][1]
        hits = []
        for doc, score in ranked[:limit]:
            # Runners-up are shown only when they come close to the best answer.
            if score < bar or score < best * _RELATED_SHARE:
                break
            article = index.articles[doc]
            snippet = _best_snippet(article, query, language, self.snippet_chars)
            hits.append(SearchHit(article=article, score=score, snippet=snippet))
        return hits
