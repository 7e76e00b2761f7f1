"""Omnidesk's agent core: actions, parsing, coordinate mapping, safety, the step loop, trajectories.

Pure Python: it talks to the world only through the Protocols in :mod:`omnidesk.agent.ports`.
"""
