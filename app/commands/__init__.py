"""Sub-commands of the ``omnidesk`` CLI, one module each, registered in :mod:`omnidesk.app.cli`."""
