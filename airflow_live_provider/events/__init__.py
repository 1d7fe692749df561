"""Live events, the domain behind the sample event DAGs: the calendar, the planner (one run per
event instance), the timeline of one event run on its instance's clock, run sheets, and stream
sessions (change detection and their records). Airflow-free logic the DAGs and operators call."""
