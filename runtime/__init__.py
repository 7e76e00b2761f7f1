"""Omnidesk's runtime: the adapters behind the agent's ports (llama.cpp, capture, audio, input)."""
