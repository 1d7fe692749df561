"""Reports on Polyv sub-accounts, the domain behind the sample snapshot DAGs: the snapshot report,
the resource trend across snapshots, and the HTML page parts every page shares. Airflow-free."""
