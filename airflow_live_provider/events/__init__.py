"""Live events, the domain behind the sample event DAGs: the calendar, the planner (one run per
event instance), the declared steps of an event run, its records, sheets and phone page, and
stream sessions (change detection and their records). Airflow-free logic the DAGs, operators and
the workflow layer (:mod:`airflow_live_provider.workflow`) call."""
