"""Overrides the contrib hook, which copies the metadata of ``webrtcvad``: we install ``webrtcvad-wheels``."""

from PyInstaller.utils.hooks import copy_metadata

datas = copy_metadata("webrtcvad-wheels")
