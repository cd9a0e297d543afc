"""A plugin module that fails to import: noticer must warn once and run the other rules."""
raise ImportError("this plugin is broken on purpose")
