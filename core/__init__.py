"""The ground layer: settings, languages, the text catalog, errors and Redis keys.

Every other package may import it; it imports none of them.
"""
