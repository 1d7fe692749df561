"""The provider's data as OpenLineage datasets: the ``asset-uris`` converters and what the
operators' ``get_openlineage_facets_on_complete`` report.

Naming follows OpenLineage's rule for URI-shaped sources (as for ``s3://bucket/key``): the scheme
and authority are the dataset's **namespace**, the path its **name**; the namespace is what the
Airflow asset URI already names, so a dataset and its asset read the same.

============================  ===========================  ==============================
data                          namespace                    name
============================  ===========================  ==============================
Polyv snapshot asset          ``polyv://<conn id>``        ``sub-account-snapshots``
Polyv sub-accounts (read)     ``polyv://<conn id>``        ``sub-accounts``
Polyv channel                 ``polyv://<conn id>``        ``channels/<channel id>``
Volcengine stream             ``volclive://<vhost>``       ``<app>/<stream>``
ISDP channel                  ``isdp://<conn id>``         ``channels/<channel id>``
an output file                ``file`` / ``s3://<bucket>``  its path / key (OpenLineage's own
                                                           naming for files and object stores)
============================  ===========================  ==============================

Polyv data belongs to an account, and the account is what the connection id names (the appId
would be the vendor's name for it, but the asset URI, chosen first, names the connection).
Nothing here ever carries a credential: an output URI's user part (``s3://<conn id>@bucket``, or a
password someone put there) is dropped, and no facet holds a row, token or URL of the vendor.

Light at import (the ``asset-uris`` entries point here): the OpenLineage classes are imported
when a dataset is built, which only happens when the OpenLineage provider is installed and asks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from airflow.sdk import Asset

POLYV = "polyv"
VOLCLIVE = "volclive"
ISDP = "isdp"
SUB_ACCOUNTS = "sub-accounts"
#: OpenLineage's namespaces for object stores whose scheme differs from the URI's.
_STORE_SCHEMES = {"gcs": "gs", "s3a": "s3", "s3n": "s3"}


def dataset(namespace: str, name: str, facets: Mapping[str, Any] | None = None) -> Any:
    """An OpenLineage ``Dataset`` (imported here: only called when OpenLineage is installed)."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    return Dataset(namespace=namespace, name=name, facets=dict(facets or {}))


def polyv_dataset(conn_id: str, name: str) -> Any:
    return dataset(f"{POLYV}://{conn_id}", name)


def polyv_channel_dataset(conn_id: str, channel_id: str | int) -> Any:
    return polyv_dataset(conn_id, f"channels/{channel_id}")


def volclive_dataset(vhost: str, app: str, stream: str) -> Any:
    return dataset(f"{VOLCLIVE}://{vhost.lower()}", f"{app}/{stream}")


def isdp_channel_dataset(conn_id: str, channel_id: str | int) -> Any:
    return dataset(f"{ISDP}://{conn_id}", f"channels/{channel_id}")


def polyv_asset_to_openlineage(asset: Asset, lineage_context: Any = None) -> Any:
    """``to_openlineage_converter`` of the ``polyv`` scheme: ``polyv://<conn id>/<path>`` ->
    namespace ``polyv://<conn id>``, name ``<path>``."""
    parts = urlsplit(asset.uri)
    return polyv_dataset(parts.netloc, parts.path.strip("/"))


def volclive_asset_to_openlineage(asset: Asset, lineage_context: Any = None) -> Any:
    """``to_openlineage_converter`` of the ``volclive`` scheme: ``volclive://<vhost>/<app>/<stream>``
    -> namespace ``volclive://<vhost>``, name ``<app>/<stream>``."""
    parts = urlsplit(asset.uri)
    return dataset(f"{VOLCLIVE}://{parts.netloc}", parts.path.strip("/"))


def storage_dataset(uri: str, *, rows: int | None = None) -> Any:
    """An output file as OpenLineage names it: ``file`` + path for local files (as Airflow's
    common.io converter does), ``<scheme>://<bucket>`` + key for object stores. The user part of
    the URI (an ObjectStoragePath connection id, or anything else before ``@``) is dropped.
    ``rows``: the rows written, as the output statistics facet (an ``OutputDataset`` then)."""
    text = str(uri)
    if "://" not in text:  # a bare local path
        namespace, name = "file", text
    else:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        host = parts.hostname or ""
        if scheme == "file":
            namespace = f"file://{host}" if host and host != "localhost" else "file"
            name = parts.path
        else:
            authority = host if parts.port is None else f"{host}:{parts.port}"
            namespace = f"{_STORE_SCHEMES.get(scheme, scheme)}://{authority}"
            name = parts.path.lstrip("/")
    if rows is None:
        return dataset(namespace, name)
    from airflow.providers.common.compat.openlineage.facet import (
        OutputDataset,
        OutputStatisticsOutputDatasetFacet,
    )

    return OutputDataset(
        namespace=namespace,
        name=name,
        outputFacets={"outputStatistics": OutputStatisticsOutputDatasetFacet(rowCount=rows)},
    )


def operator_lineage(inputs: Iterable[Any] = (), outputs: Iterable[Any] = ()) -> Any:
    """What ``get_openlineage_facets_on_complete`` returns (the OpenLineage provider's type)."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage(inputs=list(inputs), outputs=list(outputs))


def asset_datasets(assets: Iterable[Any]) -> list[Any]:
    """Airflow assets (an operator's outlets) as OpenLineage datasets, through the converter each
    scheme registered (``polyv``, ``volclive`` here; ``file``, ``s3``... by other providers)."""
    from airflow.providers.openlineage.utils.utils import translate_airflow_asset
    from airflow.sdk import Asset

    found = (translate_airflow_asset(a, None) for a in assets if isinstance(a, Asset))
    return [d for d in found if d is not None]
