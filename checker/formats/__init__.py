"""Output formats: small classes, separate from checking and from the CLI.

A format has a ``name``, an ``extension`` and ``render(report) -> str | bytes``. Built-in
formats are declared under the ``noticer.formats`` entry-point group like plugins."""
