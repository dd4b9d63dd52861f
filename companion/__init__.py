"""companion: a tabletop companion that steers its person toward other people."""

__version__ = "0.1.0"
