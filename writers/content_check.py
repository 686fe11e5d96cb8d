"""The content check: Rasa's validation plus the checks a bilingual bot needs.

``python -m kesher check-content [--project DIR]`` (``make check-content``) runs
``rasa data validate`` and then checks what Rasa does not know about: every
intent has enough examples in Hebrew *and* English, every response and every
key of the text catalog (``data/texts``: what the actions, the handoff service,
the e-mails and the canned replies say) has a Hebrew and an English text
(really written in that language, with the same arguments), every help-centre
article exists in both languages with complete front matter, no example
sentence is taught for two intents, and stories and rules only name intents,
actions, forms, slots and entities the domain has. Each problem is printed as
``path:line: severity [kind] message`` with a message that says what to
change, written for the content writers (see docs/writing.md). The exit status
is 1 when there is any error; warnings alone do not fail the check.

The checks are registered in :data:`writers.checks.CHECKS`, one module each;
they read the project through :class:`writers.project.Project`, which can
point at any folder, so the tests run them on small broken copies of a project.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Iterable, List, Optional, Sequence

from core.settings import PROJECT_ROOT
from writers.checks import CHECKS
from writers.checks.base import ERROR, MIN_EXAMPLES, MIN_RETRIEVAL_EXAMPLES, Check, Finding, Options
from writers.project import Project

__all__ = ["format_findings", "main", "run_checks", "summary"]


def run_checks(project: Project, *, rasa: bool = True, options: Options = Options(),
               checks: Sequence[Check] = CHECKS) -> List[Finding]:
    """Runs every check (``rasa data validate`` only if ``rasa``).

    When a domain file does not parse, the checks that need the domain are
    skipped: without the whole domain every intent, response and slot it
    defines would look missing, and the report would drown the one real error.

    Returns:
        All findings, sorted by file and line.
    """
    broken_domain = bool(project.unreadable_domain_files())
    findings: List[Finding] = []
    for check in checks:
        if (check.runs_rasa and not rasa) or (check.needs_domain and broken_domain):
            continue
        findings += check.run(project, options)
    return sorted(dict.fromkeys(findings), key=Finding.sort_key)


def summary(findings: Iterable[Finding]) -> str:
    """``content check: N errors, M warnings``."""
    findings = list(findings)
    errors = sum(f.severity == ERROR for f in findings)
    return f"content check: {errors} errors, {len(findings) - errors} warnings"


def format_findings(findings: Sequence[Finding]) -> str:
    """The report: one ``path:line: severity [kind] message`` line per finding, then the summary."""
    return "\n".join([*(str(f) for f in sorted(findings, key=Finding.sort_key)), summary(findings)])


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Checks a project's content and prints what is wrong.

    Returns:
        1 if there is any error, else 0 (warnings alone pass).
    """
    parser = argparse.ArgumentParser(prog="python -m kesher check-content",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--project", type=Path, default=PROJECT_ROOT, help="project folder (default: this one)")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument("--skip-rasa", action="store_true", help="do not run `rasa data validate`")
    parser.add_argument("--min-examples", type=int, default=MIN_EXAMPLES,
                        help=f"examples each intent needs per language (default {MIN_EXAMPLES})")
    parser.add_argument("--min-faq-examples", type=int, default=MIN_RETRIEVAL_EXAMPLES,
                        help=f"examples each faq/<topic> needs per language (default {MIN_RETRIEVAL_EXAMPLES})")
    args = parser.parse_args(argv)
    if not args.project.is_dir():
        parser.error(f"{args.project} is not a folder")
    options = Options(min_examples=args.min_examples, min_retrieval_examples=args.min_faq_examples)
    findings = run_checks(Project(args.project), rasa=not args.skip_rasa, options=options)
    if args.json:
        print(json.dumps([asdict(f) for f in findings], ensure_ascii=False, indent=2))
    else:
        print(format_findings(findings))
    return 1 if any(f.severity == ERROR for f in findings) else 0


if __name__ == "__main__":
    sys.exit(main())
