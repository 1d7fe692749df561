"""The workflow layer: multi-call steps over the hooks, and the steps of one event run.

Above the domain packages (``events/``, ``reports/``) and the core, below the operators: it may
raise Airflow's task exceptions and call the hooks and ``metrics``; nothing in the domain or the
core imports it (``tests/test_layers.py`` holds this).
"""
