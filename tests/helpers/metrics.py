"""Scraping a process's ``/metrics`` over real HTTP, parsed with prometheus_client's own parser."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, FrozenSet, Tuple

import httpx
from prometheus_client.parser import text_string_to_metric_families

Key = Tuple[str, FrozenSet[Tuple[str, str]]]


@dataclass(frozen=True)
class Scrape:
    """One scrape: every sample by name and labels, and each family's type."""

    samples: Dict[Key, float]
    types: Dict[str, str]

    def value(self, name: str, **labels: str) -> float:
        """The sample's value, or 0 when the series does not exist (yet)."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def has(self, name: str, **labels: str) -> bool:
        """Whether the scrape holds this exact series."""
        return (name, frozenset(labels.items())) in self.samples

    def total(self, name: str, **labels: str) -> float:
        """The sum over every series of ``name`` whose labels include ``labels``."""
        want = set(labels.items())
        return sum(v for (n, ls), v in self.samples.items() if n == name and want <= ls)


def parse(text: str) -> Scrape:
    """Parses Prometheus's text format with prometheus_client's own parser (an error fails the test)."""
    samples: Dict[Key, float] = {}
    types: Dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return Scrape(samples, types)


def _checked(response: httpx.Response) -> Scrape:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


async def scrape(base_url: str) -> Scrape:
    """GETs ``<base_url>/metrics`` and parses it."""
    async with httpx.AsyncClient(timeout=30) as http:
        return _checked(await http.get(base_url.rstrip("/") + "/metrics"))


def scrape_now(base_url: str) -> Scrape:
    """:func:`scrape` for synchronous tests (the whole-stack ones)."""
    return _checked(httpx.get(base_url.rstrip("/") + "/metrics", timeout=30))
