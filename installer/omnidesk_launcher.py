"""Entry script of the frozen (PyInstaller) app: the same ``omnidesk`` command as the console script."""

from __future__ import annotations

import sys

from omnidesk.app.cli import main

if __name__ == "__main__":
    sys.exit(main())
