"""The composition root: :class:`wiring.container.Container` builds every backend from the settings."""
