"""Placeholder until the text rule family lands: no rules yet."""
RULES = ()
