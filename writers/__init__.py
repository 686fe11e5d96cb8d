"""The content writers' tools: the content check, flow charts, unanswered questions, the NLU gate, shipping.

They read the Rasa project files (domain, NLU, stories, rules, responses), the
help-centre articles and the text catalog through one reader,
:class:`writers.project.Project`; the content check's checks are registered in
:data:`writers.checks.CHECKS`. The console's writers' pages show them in a browser.
"""
