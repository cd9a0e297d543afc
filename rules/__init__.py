"""noticer's built-in rules, one module per rule family.

Each module exposes ``RULES``; they are loaded through the ``noticer.rules`` entry points
declared in pyproject.toml, exactly like third-party plugins.
"""
