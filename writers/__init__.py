"""The content writers' tools: the content check, flow charts, unanswered questions, the NLU gate, shipping.

They read the Rasa project files (domain, NLU, stories, rules, responses) and
the text catalog; the console's writers' pages show them in a browser.
"""
