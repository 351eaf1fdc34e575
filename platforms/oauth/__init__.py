"""allauth provider subclasses whose endpoints are read from settings at call time."""
