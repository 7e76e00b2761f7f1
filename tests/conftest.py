"""Test configuration: the desktop rig plugin and shared fixtures."""

pytest_plugins = ["tests.rig.plugin", "tests.models.plugin"]
