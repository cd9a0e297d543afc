"""noticer's version, in a module of its own so every other module can import it."""
__version__ = "0.1.0"
