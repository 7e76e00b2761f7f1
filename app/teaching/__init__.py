"""Teach mode ("Show me"): the person shows a task once, with their voice, and it becomes an automation.

The engine the CLI (``omnidesk teach``) and the window's review panel share, in the order it runs:
:mod:`.session` records the screen, the narration and the person's own input; :mod:`.draft` turns the
input into replay steps with targets cut from the recording and thumbnails for the review;
:mod:`.describe` has the omni model read the recording and write what the task is; :mod:`.save` writes the
reviewed automation, atomically, only when the person says so.
"""
