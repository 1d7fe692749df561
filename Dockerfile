# The provider baked into the official Airflow image: `docker compose build` (or `docker build .`).
# Installed at build time as the airflow user, so containers start with it already there
# (`_PIP_ADDITIONAL_REQUIREMENTS` would reinstall it at every container start).
FROM apache/airflow:3.3.2

# Sources go to a directory the airflow user owns (group 0, as the official image expects
# for arbitrary-UID runs); only what `pip install` needs, see .dockerignore.
COPY --chown=airflow:0 pyproject.toml README.md /opt/airflow/src/airflow-live-provider/
COPY --chown=airflow:0 airflow_live_provider /opt/airflow/src/airflow-live-provider/airflow_live_provider
# The sample DAGs too, so the image runs them without the compose file's ./dags bind mount.
COPY --chown=airflow:0 dags /opt/airflow/dags

USER airflow
# Pinning apache-airflow to the image's own version keeps pip from upgrading or downgrading
# Airflow while it resolves the provider's dependencies.
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" /opt/airflow/src/airflow-live-provider
