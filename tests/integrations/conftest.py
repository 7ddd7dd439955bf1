from .support import stream  # noqa: F401 - a fixture
