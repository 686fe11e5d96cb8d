"""The handoff service: the agent console, the mail pages and the writers' pages (Sanic).

``app.create_app(settings)`` builds it on the composition root's backends;
``context`` holds its typed state, ``auth``/``sessions``/``middleware`` decide
who may do what, ``routes`` is the desk and its JSON API, ``feed``/``live``
keep consoles up to date, ``mailbox`` shows the local mail, ``writers`` and
``questions`` are the writers' pages over ``writers/``.
"""
