"""Placeholder until the align rule family lands: no rules yet."""
RULES = ()
