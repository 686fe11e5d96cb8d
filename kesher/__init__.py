"""Kesher's command line (``python -m kesher``) and the supervisor that runs every part."""
