"""Placeholder until the hands rule family lands: no rules yet."""
RULES = ()
