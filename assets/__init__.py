"""Data files shipped with Omnidesk (prompts, profiles, grammars, icons), read with importlib.resources."""
