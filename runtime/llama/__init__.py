"""The local omni model runtime on llama-cpp-python's low-level bindings (libllama + libmtmd)."""
