"""Apache Airflow provider for live-streaming vendors (Polyv, Volcengine Live, Huawei ISDP).

Kept import-light on purpose: Airflow's provider discovery imports this package.
"""

__version__ = "0.2.0"
