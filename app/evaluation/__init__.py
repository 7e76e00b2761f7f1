"""``omnidesk eval``: runners that reach a model the way ``omnidesk run`` does, the loop that drives them
(progress, a valid report after every item, Ctrl-C), the HTML report and the comparison table.

A runner (:class:`~omnidesk.app.evaluation.driver.EvalRunner`) says what it will do and does one item;
:func:`~omnidesk.app.evaluation.driver.run_evaluation` does the rest. Adapters come from
``app/compose.py`` (the only place that builds them).
"""
