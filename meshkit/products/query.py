"""Query: the consumer's read of data products, with SQL, into a pandas DataFrame.

One call, two engines, chosen by where AWS is:

- **Offline** (the embedded AWS, or another endpoint): DuckDB, in memory. Every data product
  named in the SQL as ``<database>.<table>`` becomes a DuckDB view of the same name over a
  ``pyarrow.dataset`` of the product's Parquet files on the target's S3 (Hive partitioning, so
  ``event_date`` is a column; the product's Glue columns as the schema, so a product without
  files yet gives an empty result with its columns). DuckDB reads S3 through pyarrow because its
  own ``httpfs`` extension is not bundled and cannot be downloaded offline.
- **On AWS**: Amazon Athena, through awswrangler's ``wr.athena.read_sql_query`` (with
  ``ctas_approach=False``: the results come back as CSV, with no table created for them), under
  the Lake Formation permissions of the caller.

The same SQL runs on both for simple ``SELECT ... FROM <database>.<table> WHERE ... GROUP BY
... ORDER BY`` with standard functions (``count``, ``sum``, ``avg``, ``min``, ``max``,
``date_trunc``). Beyond that the dialects differ: Athena is Trino, whose
``from_iso8601_timestamp``, ``approx_distinct`` and ``date_format`` DuckDB does not know (it has
``strftime`` and ``approx_count_distinct``); write for Athena and check offline what DuckDB
accepts. Only ``SELECT`` statements are run.

Tables are named ``<database>.<table>`` (``sales.sale_recorded``), or by table alone with
``database=`` saying where, on both engines. A table the SQL names that is not a data product
(no Glue table, or one without meshkit's descriptor) is refused with the table's name;
``mk.products.list_data_products()`` shows the products there are.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pandas as pd
from botocore.exceptions import ClientError

from .. import _aws
from .._shared import error_code
from ..exceptions import MeshkitError, ValidationError
from .descriptor import DataProduct, DataProductNotFoundError

__all__ = [
    "InvalidQueryError",
    "NotADataProductError",
    "QueryError",
    "query",
]

_logger = logging.getLogger(__name__)

# Without DuckDB's parser (on AWS, where DuckDB is optional): <database>.<table> after FROM/JOIN.
_QUALIFIED = re.compile(
    r"\b(?:from|join)\s+(\"?)([A-Za-z_][A-Za-z0-9_]*)\1\s*\.\s*(\"?)([A-Za-z_][A-Za-z0-9_]*)\3",
    re.IGNORECASE,
)


_DATABASE = re.compile(r"[a-z_][a-z0-9_]{0,254}")  # a Glue database name as meshkit makes them


class InvalidQueryError(ValidationError):
    """The SQL is not one ``SELECT`` statement meshkit can run, or names a table without its
    database (and no ``database=`` says which); nothing was sent to AWS."""


class NotADataProductError(DataProductNotFoundError):
    """A table the SQL names is not a data product (no such Glue table, or no descriptor)."""


class QueryError(MeshkitError):
    """The query engine (DuckDB offline, Athena on AWS) could not run the SQL.

    ``engine`` is ``"duckdb"`` or ``"athena"``.
    """

    def __init__(self, message: str, *, engine: str) -> None:
        super().__init__(message)
        self.engine = engine


# -- which tables the SQL reads ---------------------------------------------------------------


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in DuckDB's serialised syntax tree."""
    if isinstance(tree, dict):
        yield tree
        for value in tree.values():
            yield from _nodes(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _nodes(value)


def _parsed_tables(sql: str, database: str | None) -> list[tuple[str, str]]:
    """``(database, table)`` of every table the SQL reads, from DuckDB's parser (no binding);
    a table named without its database is in ``database``."""
    import duckdb

    with duckdb.connect(":memory:") as connection:
        row = connection.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    tree = json.loads(row[0]) if row else {}
    if tree.get("error"):
        kind = tree.get("error_type", "")
        message = tree.get("error_message", "")
        if kind == "not implemented":  # json_serialize_sql takes SELECT statements only
            raise InvalidQueryError(
                f"sql must be one SELECT statement ({message}): query() reads data products, "
                "it does not change them"
            )
        raise InvalidQueryError(f"sql is not valid SQL: {message} (at {tree.get('location')})")
    statements = tree.get("statements") or []
    if len(statements) != 1:
        raise InvalidQueryError(
            f"sql holds {len(statements)} statements; give one SELECT statement"
        )
    ctes = {
        str(entry.get("key", "")).lower()
        for node in _nodes(statements)
        for entry in (node.get("cte_map") or {}).get("map", [])
        if isinstance(node.get("cte_map"), dict)
    }
    tables: list[tuple[str, str]] = []
    for node in _nodes(statements):
        if node.get("type") != "BASE_TABLE":
            continue
        catalog, schema = node.get("catalog_name") or "", node.get("schema_name") or ""
        table = str(node.get("table_name") or "")
        if not catalog and not schema and table.lower() in ctes:
            continue  # a WITH clause's name
        if not catalog and not schema and database is not None:
            schema = database
        if catalog or not schema:
            name = ".".join(part for part in (catalog, schema, table) if part)
            raise InvalidQueryError(
                f"sql names the table {name!r}; name each data product as <database>.<table>, "
                "e.g. sales.sale_recorded, or pass database='sales' "
                "(mk.products.list_data_products() lists them)"
            )
        pair = (schema.lower(), table.lower())
        if pair not in tables:
            tables.append(pair)
    return tables


def _tables(sql: str, database: str | None, *, offline: bool) -> list[tuple[str, str]]:
    """The ``(database, table)`` pairs the SQL reads (on AWS without DuckDB: a simple scan)."""
    try:
        import duckdb  # noqa: F401  (the parser, when it is installed)
    except ImportError:
        if offline:
            raise MeshkitError(
                "querying data products offline needs DuckDB: install meshkit's embedded extra "
                "(pip install 'meshkit[embedded]')"
            ) from None
        pairs = [(m.group(2).lower(), m.group(4).lower()) for m in _QUALIFIED.finditer(sql)]
        return list(dict.fromkeys(pairs))
    return _parsed_tables(sql, database)


def _products(
    tables: list[tuple[str, str]], boto3_session: boto3.Session | None
) -> dict[tuple[str, str], DataProduct]:
    """The data product behind each table, from its Glue table's descriptor."""
    glue = _aws.client("glue", boto3_session)
    found: dict[tuple[str, str], DataProduct] = {}
    for database, table in tables:
        fix = "mk.products.list_data_products() lists the data products you can query"
        try:
            stored = glue.get_table(DatabaseName=database, Name=table)["Table"]
        except ClientError as err:
            if error_code(err) != "EntityNotFoundException":
                raise
            raise NotADataProductError(
                f"sql names {database}.{table}, which is not a data product (no such Glue "
                f"table): {fix}"
            ) from err
        try:
            found[(database, table)] = DataProduct.from_glue_table(stored)
        except DataProductNotFoundError as err:
            raise NotADataProductError(
                f"sql names {database}.{table}, a Glue table that is not a data product (it "
                f"holds no descriptor): {fix}"
            ) from err
    return found


# -- offline: DuckDB over pyarrow datasets ------------------------------------------------------


def _arrow_type(glue_type: str, column: str) -> Any:
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "varchar": pa.string(),
        "char": pa.string(),
        "double": pa.float64(),
        "float": pa.float32(),
        "real": pa.float32(),
        "bigint": pa.int64(),
        "int": pa.int32(),
        "integer": pa.int32(),
        "smallint": pa.int16(),
        "tinyint": pa.int8(),
        "boolean": pa.bool_(),
        "timestamp": pa.timestamp("ns"),  # Athena's timestamp: no time zone (UTC by convention)
        "date": pa.date32(),
        "binary": pa.binary(),
    }
    kind = glue_type.lower().split("(", 1)[0]
    if kind not in types:
        raise QueryError(
            f"column {column} has the Glue type {glue_type!r}, which query() cannot read "
            f"offline (it reads {', '.join(sorted(types))}): query it on AWS with Athena",
            engine="duckdb",
        )
    return types[kind]


def _filesystem(boto3_session: boto3.Session | None) -> Any:
    """pyarrow's S3 client for the target: its endpoint, the session's (fake) credentials."""
    from pyarrow import fs

    session = _aws.session(boto3_session)
    current = _aws.target()
    credentials = session.get_credentials().get_frozen_credentials()
    return fs.S3FileSystem(
        access_key=credentials.access_key,
        secret_key=credentials.secret_key,
        session_token=credentials.token,
        region=session.region_name or current.region,
        endpoint_override=current.endpoint_url,
    )


def _dataset(product: DataProduct, filesystem: Any) -> Any:
    """The product's files as one pyarrow dataset, typed as its Glue columns."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    from pyarrow import fs

    base = product.dataset.location.removeprefix("s3://").rstrip("/")
    keys = pa.schema([(key, pa.string()) for key in product.dataset.partition_keys])
    schema = pa.schema(
        [(c.name, _arrow_type(c.type, c.name)) for c in product.columns] + list(keys)
    )
    infos = filesystem.get_file_info(fs.FileSelector(base, recursive=True, allow_not_found=True))
    # Hive's convention, which Athena follows: names starting with "_" or "." are not data.
    files = sorted(
        info.path
        for info in infos
        if info.type == fs.FileType.File and not info.base_name.startswith(("_", "."))
    )
    return ds.dataset(
        files,
        schema=schema,
        format="parquet",
        filesystem=filesystem,
        partitioning=ds.partitioning(keys, flavor="hive"),
        partition_base_dir=base,
    )


def _duckdb(
    sql: str,
    products: dict[tuple[str, str], DataProduct],
    database: str | None,
    boto3_session: boto3.Session | None,
) -> pd.DataFrame:
    import duckdb

    filesystem = _filesystem(boto3_session) if products else None
    with duckdb.connect(":memory:") as connection:
        # Only the products' views: no Python variables picked up by name.
        connection.execute("SET python_enable_replacements = false")
        for index, ((schema, table), product) in enumerate(products.items()):
            source = f"product_{index}"
            connection.register(source, _dataset(product, filesystem))
            connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            connection.execute(f'CREATE VIEW "{schema}"."{table}" AS SELECT * FROM {source}')
        if database is not None:  # where tables named without a database are
            connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{database}"')
            connection.execute(f"SET schema = '{database}'")
        try:
            frame: pd.DataFrame = connection.execute(sql).df()
        except duckdb.Error as err:
            raise QueryError(
                f"DuckDB could not run the query: {err}. DuckDB's SQL and Athena's (Trino) "
                "agree on simple SELECT, WHERE and GROUP BY; beyond that their functions differ",
                engine="duckdb",
            ) from err
    return frame


# -- on AWS: Athena -----------------------------------------------------------------------------


def _athena(
    sql: str,
    tables: list[tuple[str, str]],
    database: str | None,
    boto3_session: boto3.Session | None,
    options: dict[str, Any],
) -> pd.DataFrame:
    import awswrangler as wr

    if database is None:
        database = tables[0][0] if tables else "default"
    options = {"ctas_approach": False, **options}
    try:
        frame: pd.DataFrame = wr.athena.read_sql_query(
            sql, database=database, boto3_session=_aws.session(boto3_session), **options
        )
    except wr.exceptions.QueryFailed as err:
        raise QueryError(f"Athena could not run the query: {err}", engine="athena") from err
    return frame


def query(
    sql: str,
    *,
    database: str | None = None,
    boto3_session: boto3.Session | None = None,
    **athena_options: Any,
) -> pd.DataFrame:
    """Run SQL over data products; the answer as a pandas DataFrame.

    Offline, DuckDB runs it over the products' Parquet files on the target's S3; on AWS, Athena
    does (see the module's notes for where their dialects differ).

    Parameters
    ----------
    sql : str
        One ``SELECT`` statement naming each data product as ``<database>.<table>``, e.g.
        ``SELECT count(*) AS sales FROM sales.sale_recorded``.
    database : str, optional
        The Glue database of tables the SQL names without one, on both engines (Athena's
        ``database``); default: none, every table is named ``<database>.<table>``.
    boto3_session : boto3.Session, optional
    **athena_options
        On AWS, passed on to ``awswrangler.athena.read_sql_query``: ``workgroup``,
        ``s3_output``, ``params``, ...; ``ctas_approach`` is False unless given. Offline they
        are not used.

    Returns
    -------
    pandas.DataFrame
        The result; ``frame.attrs["engine"]`` is ``"duckdb"`` or ``"athena"``.

    Raises
    ------
    InvalidQueryError
        The SQL is not one valid ``SELECT``, or names a table without its database; nothing
        was sent (on AWS without DuckDB installed, Athena judges the SQL instead).
    NotADataProductError
        A table the SQL names is not a data product.
    QueryError
        The engine could not run the SQL (an unknown column, a function of the other dialect).

    Examples
    --------
    >>> import meshkit as mk
    >>> _ = mk.products.delete_data_product("sales.sale-recorded", delete_data=True)  # from zero
    >>> product = mk.products.define_data_product(
    ...     "sales", "SaleRecorded", description="Every sale", classification="internal"
    ... )
    >>> _ = mk.products.create_data_product(product)
    >>> def sale(n, day):  # an EventBridge event, as the landing queue delivers it
    ...     time = f"2026-01-{day}T10:00:00Z"
    ...     return {
    ...         "id": f"e-{n}", "source": "sales.domain", "detail-type": "SaleRecorded",
    ...         "time": time,
    ...         "detail": {
    ...             "metadata": {"idempotency_key": f"sale-S-{n}", "schema_version": "1.0"},
    ...             "data": {"sale_id": f"S-{n}", "amount": 10.0 * n, "timestamp": time},
    ...         },
    ...     }
    >>> events = [sale(1, 29), sale(2, 29), sale(3, 30)]
    >>> _ = mk.products.land_events(product, events)
    >>> frame = mk.products.query(
    ...     "SELECT event_date, count(*) AS sales, sum(amount) AS total "
    ...     "FROM sales.sale_recorded GROUP BY event_date ORDER BY event_date"
    ... )
    >>> frame
       event_date  sales  total
    0  2026-01-29      2   30.0
    1  2026-01-30      1   30.0
    >>> frame.attrs["engine"]
    'duckdb'
    >>> mk.products.delete_data_product("sales.sale-recorded", delete_data=True)
    True

    On real AWS the same call runs on Athena; it needs a workgroup with a query result location
    (or ``s3_output=``), so it cannot run offline:

    >>> mk.products.query(  # doctest: +SKIP
    ...     "SELECT count(*) AS sales FROM sales.sale_recorded", workgroup="primary"
    ... ).attrs["engine"]
    'athena'
    """
    if not isinstance(sql, str) or not sql.strip():
        raise InvalidQueryError(
            f"sql must be a SELECT statement as a string, e.g. 'SELECT count(*) FROM "
            f"sales.sale_recorded', not {sql!r}"
        )
    if database is not None and (
        not isinstance(database, str) or not _DATABASE.fullmatch(database)
    ):
        raise InvalidQueryError(
            f"database must be a Glue database name (lower-case letters, digits and '_'), e.g. "
            f"'sales', not {database!r}"
        )
    offline = not _aws.target().is_real_aws
    tables = _tables(sql, database, offline=offline)
    products = _products(tables, boto3_session)
    if offline:
        if athena_options:
            _logger.debug("offline: Athena options %s are not used", sorted(athena_options))
        frame = _duckdb(sql, products, database, boto3_session)
        frame.attrs["engine"] = "duckdb"
    else:
        frame = _athena(sql, tables, database, boto3_session, athena_options)
        frame.attrs["engine"] = "athena"
    return frame
