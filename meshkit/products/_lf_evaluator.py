"""An offline evaluator of Lake Formation permissions: may this principal read this table, which
columns, and why?

The embedded AWS (moto) stores Lake Formation grants and LF-tags but evaluates nothing, so meshkit
answers from the stored grants (``ListPermissions`` shapes) and the tags assigned at each level,
following the Lake Formation Developer Guide. Pure Python: no AWS call happens here. Scope, and
nothing more: named-resource grants on tables, columns, all tables of a database and databases;
LF-tag policy grants with an inline expression; ``IAM_ALLOWED_PRINCIPALS``. Data cells filters,
named LF-tag expressions, resource links and data locations are reported as not evaluated.

Rules, each pinned by a test citing its page:

- a grant on a table (``Table`` with ``Name``) covers every column; on all tables of a database
  (``TableWildcard``) every column of every table in it (``API_TableResource``);
- a grant on columns (``TableWithColumns``) gives ``SELECT`` only, on its ``ColumnNames``, or on
  every column but the ``ExcludedColumnNames`` of a ``ColumnWildcard``
  (``API_TableWithColumnsResource``; "Lake Formation permissions reference": a table with a column
  filter takes ``SELECT`` only);
- an LF-tag expression matches a resource when each of its keys has one of the listed values on
  the resource: AND across keys, OR across the values of a key ("Managing LF-Tag expressions");
- tags are inherited database -> table -> column, and a value assigned lower down overrides the
  inherited value of the same key ("Assigning LF-Tags to Data Catalog resources");
- an LF-tag policy of ``ResourceType`` ``TABLE`` applies to tables and their columns, each column
  on its own effective tags; ``DATABASE`` applies to databases, with database permissions only
  ("Lake Formation permissions reference");
- when an expression matches only some of a table's columns, ``ALTER``, ``DROP``, ``INSERT`` and
  ``DELETE`` are not granted (``DESCRIBE`` is instead), and ``ALL`` gives ``SELECT`` and
  ``DESCRIBE`` only ("Lake Formation tag-based access control notes and restrictions");
- ``ALL`` (Super) holds every permission of its resource; otherwise each question is answered by
  grants of that very permission: ``DESCRIBE`` shows a table, only ``SELECT`` reads it;
- a principal's permissions are the union of its named-resource and LF-tag grants ("Metadata
  access control");
- a grant to ``IAM_ALLOWED_PRINCIPALS`` holds for every principal that IAM allows ("Metadata
  permissions": the default that leaves a table to IAM);
- a grant on all tables of a database implies ``DESCRIBE`` on the database ("Granting permissions
  on Data Catalog resources").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..exceptions import ValidationError

__all__ = [
    "ALL_TABLES",
    "COLUMNS",
    "COLUMN_PERMISSIONS",
    "DATABASE",
    "DATABASE_PERMISSIONS",
    "IAM_ALLOWED_PRINCIPALS",
    "OTHER",
    "PERMISSIONS",
    "TABLE",
    "TABLE_PERMISSIONS",
    "TAG_POLICY",
    "LFAccessDecision",
    "LFGrant",
    "LFTableTags",
    "LFTagValue",
    "check_permission",
    "evaluate_database_access",
    "evaluate_table_access",
    "expression_text",
]

#: The virtual group of every principal IAM allows: a grant to it leaves the resource to IAM.
IAM_ALLOWED_PRINCIPALS = "IAM_ALLOWED_PRINCIPALS"
#: Every permission name of Lake Formation's API (its ``Permission`` enumeration).
PERMISSIONS = (
    "ALL", "SELECT", "ALTER", "DROP", "DELETE", "INSERT", "DESCRIBE", "CREATE_DATABASE",
    "CREATE_TABLE", "DATA_LOCATION_ACCESS", "CREATE_LF_TAG", "ASSOCIATE",
    "GRANT_WITH_LF_TAG_EXPRESSION", "CREATE_LF_TAG_EXPRESSION", "CREATE_CATALOG", "SUPER_USER",
    "EXECUTE",
)  # fmt: skip
#: The permissions Lake Formation grants on a database (and by an LF-tag policy on DATABASE).
DATABASE_PERMISSIONS = ("ALL", "ALTER", "CREATE_TABLE", "DESCRIBE", "DROP")
#: The permissions Lake Formation grants on a table (and by an LF-tag policy on TABLE).
TABLE_PERMISSIONS = ("ALL", "ALTER", "DELETE", "DESCRIBE", "DROP", "INSERT", "SELECT")
#: The permissions Lake Formation grants on a table with a column filter.
COLUMN_PERMISSIONS = ("SELECT",)
_WHOLE_TABLE_ONLY = frozenset({"ALTER", "DROP", "INSERT", "DELETE"})

# What a grant names (LFGrant.kind).
TABLE = "table"
COLUMNS = "columns"
ALL_TABLES = "all tables"
DATABASE = "database"
TAG_POLICY = "LF-tag policy"
OTHER = "other"

Expression = tuple[tuple[str, tuple[str, ...]], ...]


class LFTagValue(NamedTuple):
    """One effective LF-tag of a resource: its value, and the level it was assigned at.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.products.LFTagValue("sales", "database")
    LFTagValue(value='sales', source='database')
    """

    value: str
    source: str  # "database", "table" or "column"


@dataclass(frozen=True)
class LFTableTags:
    """The LF-tags assigned (not inherited) to a table, its database and its columns.

    Attributes
    ----------
    database, table : str
        The Glue database and table.
    columns : tuple of str
        Every column of the table, partition keys included, in the table's order.
    on_database, on_table : dict of str -> str
        The tags assigned to the database and to the table: key -> value (Lake Formation
        allows one value per key on a resource).
    on_columns : dict of str -> dict of str -> str
        The tags assigned to each column.

    Examples
    --------
    >>> import meshkit as mk
    >>> tags = mk.products.LFTableTags(
    ...     "sales", "sale_recorded", ("sale_id", "amount"),
    ...     on_database={"domain": "sales"}, on_table={"classification": "internal"},
    ...     on_columns={"amount": {"classification": "confidential"}},
    ... )
    >>> tags.effective("amount")["classification"]
    LFTagValue(value='confidential', source='column')
    >>> tags.effective("sale_id")["domain"]
    LFTagValue(value='sales', source='database')
    """

    database: str
    table: str
    columns: tuple[str, ...] = ()
    on_database: Mapping[str, str] = field(default_factory=dict)
    on_table: Mapping[str, str] = field(default_factory=dict)
    on_columns: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def effective(self, column: str | None = None) -> dict[str, LFTagValue]:
        """The table's tags (or a column's) with inheritance and override applied.

        A table inherits its database's tags, a column its table's; a value assigned lower
        down replaces the inherited value of the same key.

        Examples
        --------
        >>> import meshkit as mk
        >>> tags = mk.products.LFTableTags(
        ...     "sales", "sale_recorded", on_database={"domain": "sales"},
        ...     on_table={"domain": "marketing"},
        ... )
        >>> tags.effective()
        {'domain': LFTagValue(value='marketing', source='table')}
        """
        found = {key: LFTagValue(value, "database") for key, value in self.on_database.items()}
        found.update({key: LFTagValue(value, "table") for key, value in self.on_table.items()})
        if column is not None:
            assigned = self.on_columns.get(column, {})
            found.update({key: LFTagValue(value, "column") for key, value in assigned.items()})
        return found


def expression_text(expression: Expression | Mapping[str, Any]) -> str:
    """An LF-tag expression in words: ``classification=internal AND domain=(sales OR hr)``.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.products.expression_text({"domain": ["sales", "hr"], "classification": "public"})
    'classification=public AND domain=(hr OR sales)'
    """
    pairs = _expression(expression, "expression")
    parts = []
    for key, values in pairs:
        parts.append(f"{key}={values[0]}" if len(values) == 1 else f"{key}=({' OR '.join(values)})")
    return " AND ".join(parts)


@dataclass(frozen=True)
class LFGrant:
    """One stored Lake Formation grant: a principal, a resource, permissions.

    Read from an entry of ``ListPermissions`` (``PrincipalResourcePermissions``) with
    ``from_permission``.

    Attributes
    ----------
    principal : str
        The ``DataLakePrincipalIdentifier``: an IAM role or user ARN, an account id, or
        ``IAM_ALLOWED_PRINCIPALS``.
    kind : str
        What the grant names: ``"table"``, ``"columns"``, ``"all tables"`` (of a database),
        ``"database"``, ``"LF-tag policy"`` or ``"other"`` (not evaluated).
    permissions : tuple of str
        Sorted.
    database, table : str or None
    column_names : tuple of str or None
        A column grant's ``ColumnNames``; None for a ``ColumnWildcard``.
    excluded_columns : tuple of str
        A ``ColumnWildcard``'s ``ExcludedColumnNames``.
    resource_type : str or None
        An LF-tag policy's ``ResourceType``: ``"TABLE"`` or ``"DATABASE"``.
    expression : tuple of (key, values)
        An LF-tag policy's expression, keys and values sorted.
    grantable : tuple of str
        ``PermissionsWithGrantOption``.
    other : str
        What an ``"other"`` grant names, in words.
    raw_resource : dict
        The ``Resource`` exactly as stored (what a revoke must send).

    Examples
    --------
    >>> import meshkit as mk
    >>> grant = mk.products.LFGrant.from_permission({
    ...     "Principal": {"DataLakePrincipalIdentifier": "arn:aws:iam::123456789012:role/analyst"},
    ...     "Resource": {"LFTagPolicy": {"ResourceType": "TABLE", "Expression": [
    ...         {"TagKey": "classification", "TagValues": ["internal"]}]}},
    ...     "Permissions": ["SELECT", "DESCRIBE"],
    ... })
    >>> grant.kind, grant.permissions
    ('LF-tag policy', ('DESCRIBE', 'SELECT'))
    >>> grant.describe()
    'DESCRIBE, SELECT on tables matching classification=internal'
    """

    principal: str
    kind: str
    permissions: tuple[str, ...]
    database: str | None = None
    table: str | None = None
    column_names: tuple[str, ...] | None = None
    excluded_columns: tuple[str, ...] = ()
    resource_type: str | None = None
    expression: Expression = ()
    grantable: tuple[str, ...] = ()
    other: str = ""
    raw_resource: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_permission(cls, entry: Mapping[str, Any]) -> LFGrant:
        """Read one ``PrincipalResourcePermissions`` entry of ``ListPermissions``.

        Raises
        ------
        meshkit.exceptions.ValidationError
            The entry lacks ``Principal``, ``Resource`` or ``Permissions``, or has the wrong
            shape.

        Examples
        --------
        >>> import meshkit as mk
        >>> grant = mk.products.LFGrant.from_permission({
        ...     "Principal": {"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"},
        ...     "Resource": {"Table": {"DatabaseName": "sales", "Name": "sale_recorded"}},
        ...     "Permissions": ["ALL"],
        ... })
        >>> grant.kind, grant.database, grant.table
        ('table', 'sales', 'sale_recorded')
        """
        if not isinstance(entry, Mapping):
            raise ValidationError(
                f"a grant is one ListPermissions entry (a dict with Principal, Resource and "
                f"Permissions), not {type(entry).__name__}"
            )
        principal = entry.get("Principal")
        resource = entry.get("Resource")
        if not isinstance(principal, Mapping) or not isinstance(
            principal.get("DataLakePrincipalIdentifier"), str
        ):
            raise ValidationError(
                "a grant's Principal must be {'DataLakePrincipalIdentifier': '<ARN>'}, not "
                f"{principal!r:.120}"
            )
        if not isinstance(resource, Mapping) or not resource:
            raise ValidationError(
                f"a grant's Resource must be a dict such as {{'Table': {{...}}}}, not "
                f"{resource!r:.120}"
            )
        common = {
            "principal": principal["DataLakePrincipalIdentifier"],
            "permissions": _names(entry.get("Permissions"), "Permissions"),
            "grantable": _names(entry.get("PermissionsWithGrantOption") or [], "grant option"),
            "raw_resource": dict(resource),
        }
        table = resource.get("Table")
        if isinstance(table, Mapping):
            database = _text(table.get("DatabaseName"), "Resource.Table.DatabaseName")
            if "TableWildcard" in table:
                return cls(kind=ALL_TABLES, database=database, **common)
            name = _text(table.get("Name"), "Resource.Table.Name")
            return cls(kind=TABLE, database=database, table=name, **common)
        columns = resource.get("TableWithColumns")
        if isinstance(columns, Mapping):
            database = _text(columns.get("DatabaseName"), "Resource.TableWithColumns.DatabaseName")
            name = _text(columns.get("Name"), "Resource.TableWithColumns.Name")
            wildcard = columns.get("ColumnWildcard")
            if isinstance(wildcard, Mapping):
                excluded = tuple(wildcard.get("ExcludedColumnNames") or ())
                return cls(
                    kind=COLUMNS, database=database, table=name, excluded_columns=excluded,
                    **common,
                )  # fmt: skip
            names = tuple(columns.get("ColumnNames") or ())
            return cls(kind=COLUMNS, database=database, table=name, column_names=names, **common)
        database_resource = resource.get("Database")
        if isinstance(database_resource, Mapping):
            database = _text(database_resource.get("Name"), "Resource.Database.Name")
            return cls(kind=DATABASE, database=database, **common)
        policy = resource.get("LFTagPolicy")
        if isinstance(policy, Mapping) and "Expression" in policy:
            pairs = _expression(
                {tag.get("TagKey"): tag.get("TagValues") for tag in policy["Expression"]},
                "Resource.LFTagPolicy.Expression",
            )
            resource_type = str(policy.get("ResourceType", "TABLE"))
            return cls(kind=TAG_POLICY, resource_type=resource_type, expression=pairs, **common)
        kinds = ", ".join(sorted(str(key) for key in resource))
        return cls(kind=OTHER, other=kinds, **common)

    def key(self) -> tuple[Any, ...]:
        """What identifies the grant's principal and resource (permissions aside).

        Examples
        --------
        >>> import meshkit as mk
        >>> a = mk.products.LFGrant("IAM_ALLOWED_PRINCIPALS", "table", ("ALL",), "sales", "t")
        >>> b = mk.products.LFGrant("IAM_ALLOWED_PRINCIPALS", "table", ("SELECT",), "sales", "t")
        >>> a.key() == b.key()
        True
        """
        names = None if self.column_names is None else tuple(sorted(self.column_names))
        return (
            self.principal, self.kind, self.database, self.table, names,
            tuple(sorted(self.excluded_columns)), self.resource_type, self.expression,
            self.other if self.kind == OTHER else "",
        )  # fmt: skip

    def resource(self) -> dict[str, Any]:
        """The ``Resource`` to send to Lake Formation's ``GrantPermissions``.

        Examples
        --------
        >>> import meshkit as mk
        >>> mk.products.LFGrant("IAM_ALLOWED_PRINCIPALS", "all tables", ("SELECT",),
        ...     "sales").resource()
        {'Table': {'DatabaseName': 'sales', 'TableWildcard': {}}}
        """
        if self.kind == TABLE:
            return {"Table": {"DatabaseName": self.database, "Name": self.table}}
        if self.kind == ALL_TABLES:
            return {"Table": {"DatabaseName": self.database, "TableWildcard": {}}}
        if self.kind == COLUMNS:
            inner: dict[str, Any] = {"DatabaseName": self.database, "Name": self.table}
            if self.column_names is None:
                inner["ColumnWildcard"] = {"ExcludedColumnNames": list(self.excluded_columns)}
            else:
                inner["ColumnNames"] = list(self.column_names)
            return {"TableWithColumns": inner}
        if self.kind == DATABASE:
            return {"Database": {"Name": self.database}}
        if self.kind == TAG_POLICY:
            return {
                "LFTagPolicy": {
                    "ResourceType": self.resource_type or "TABLE",
                    "Expression": [
                        {"TagKey": key, "TagValues": list(values)}
                        for key, values in self.expression
                    ],
                }
            }
        return dict(self.raw_resource)

    def resource_text(self) -> str:
        """What the grant names, in words: ``sales.sale_recorded (columns a, b)``.

        Examples
        --------
        >>> import meshkit as mk
        >>> mk.products.LFGrant("IAM_ALLOWED_PRINCIPALS", "columns", ("SELECT",), "sales", "t",
        ...     excluded_columns=("amount",)).resource_text()
        'sales.t (every column but amount)'
        """
        if self.kind == TABLE:
            return f"{self.database}.{self.table}"
        if self.kind == ALL_TABLES:
            return f"every table of {self.database}"
        if self.kind == COLUMNS:
            if self.column_names is None:
                if not self.excluded_columns:
                    return f"{self.database}.{self.table} (every column)"
                return f"{self.database}.{self.table} (every column but " + (
                    f"{', '.join(self.excluded_columns)})"
                )
            return f"{self.database}.{self.table} (columns {', '.join(self.column_names)})"
        if self.kind == DATABASE:
            return f"database {self.database}"
        if self.kind == TAG_POLICY:
            things = "databases" if self.resource_type == "DATABASE" else "tables"
            return f"{things} matching {expression_text(self.expression)}"
        return self.other

    def describe(self) -> str:
        """The grant in words: ``SELECT on sales.sale_recorded``.

        Examples
        --------
        >>> import meshkit as mk
        >>> mk.products.LFGrant("IAM_ALLOWED_PRINCIPALS", "table", ("ALL",), "sales",
        ...     "sale_recorded").describe()
        'ALL on sales.sale_recorded'
        """
        return f"{', '.join(self.permissions)} on {self.resource_text()}"


@dataclass(frozen=True)
class LFAccessDecision:
    """Whether a principal holds a permission on a table (or database), on which columns, and why.

    Attributes
    ----------
    allowed : bool
    principal, permission, database : str
    table : str or None
        None for a question about a database.
    columns : tuple of str
        The columns the permission covers, in the table's order (all of them when
        ``all_columns``); empty when denied.
    all_columns : bool
    grants : tuple of LFGrant
        The grants that decided (empty when denied).
    reason : str
        The decision in words: which grants matched which tags, and what did not match.
    evaluated_by : str
        ``"meshkit evaluator"``.

    Examples
    --------
    >>> import meshkit as mk
    >>> analyst = "arn:aws:iam::123456789012:role/analyst"
    >>> grants = [{"Principal": {"DataLakePrincipalIdentifier": analyst},
    ...            "Resource": {"Table": {"DatabaseName": "sales", "Name": "sale_recorded"}},
    ...            "Permissions": ["SELECT"]}]
    >>> tags = mk.products.LFTableTags("sales", "sale_recorded", ("sale_id", "amount"))
    >>> decision = mk.products.evaluate_table_access(grants, tags, analyst)
    >>> bool(decision), decision.cell
    (True, 'all columns')
    """

    allowed: bool
    principal: str
    permission: str
    database: str
    table: str | None
    columns: tuple[str, ...]
    all_columns: bool
    grants: tuple[LFGrant, ...]
    reason: str
    evaluated_by: str = "meshkit evaluator"

    def __bool__(self) -> bool:
        return self.allowed

    @property
    def cell(self) -> str:
        """What a who-can-read grid shows: ``"all columns"``, the columns, or ``""``.

        Examples
        --------
        >>> import meshkit as mk
        >>> tags = mk.products.LFTableTags("sales", "sale_recorded", ("sale_id",))
        >>> mk.products.evaluate_table_access([], tags, "IAM_ALLOWED_PRINCIPALS").cell
        ''
        """
        if not self.allowed:
            return ""
        return "all columns" if self.all_columns else ", ".join(self.columns)


# -- checks ----------------------------------------------------------------------------------


def _text(value: Any, field_name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{field_name} must be a non-empty string, not {value!r:.80}")
    return value


def _names(value: Any, field_name: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError(
            f"a grant's {field_name} must be a list of permission names such as ['SELECT'], "
            f"not {value!r:.80}"
        )
    names = list(value)
    if not all(isinstance(name, str) for name in names):
        raise ValidationError(f"a grant's {field_name} must hold strings, not {names!r:.80}")
    return tuple(sorted(set(names)))


def _expression(expression: Any, field_name: str) -> Expression:
    """An expression as sorted (key, sorted values) pairs, lower-cased as Lake Formation stores
    them; a dict key -> value or values, or pairs already."""
    if isinstance(expression, tuple) and all(
        isinstance(pair, tuple) and len(pair) == 2 for pair in expression
    ):
        expression = dict(expression)
    if not isinstance(expression, Mapping) or not expression:
        raise ValidationError(
            f"{field_name} must be a non-empty dict of LF-tag key -> value or values, e.g. "
            f"{{'classification': 'internal'}}, not {expression!r:.80}"
        )
    pairs = []
    for key, values in expression.items():
        if not isinstance(key, str) or not key:
            raise ValidationError(f"{field_name}: an LF-tag key must be a string, not {key!r:.80}")
        listed = [values] if isinstance(values, str) else values
        if not isinstance(listed, Iterable) or isinstance(listed, Mapping):
            raise ValidationError(
                f"{field_name}[{key!r}] must be a value or a list of values, not {values!r:.80}"
            )
        listed = list(listed)
        if not listed or not all(isinstance(value, str) and value for value in listed):
            raise ValidationError(
                f"{field_name}[{key!r}] must list at least one non-empty value, e.g. "
                f"['internal'], not {values!r:.80}"
            )
        pairs.append((key.lower(), tuple(sorted({value.lower() for value in listed}))))
    return tuple(sorted(pairs))


def check_permission(permission: Any, allowed: Sequence[str], field_name: str) -> str:
    """``permission`` upper-cased, refused unless it is one of ``allowed``.

    Raises
    ------
    meshkit.exceptions.ValidationError
        Naming ``field_name``, whether Lake Formation knows the name at all, and what the
        resource takes.

    Examples
    --------
    >>> from meshkit.products._lf_evaluator import TABLE_PERMISSIONS, check_permission
    >>> check_permission("select", TABLE_PERMISSIONS, "permission")
    'SELECT'
    >>> check_permission("FLY", TABLE_PERMISSIONS, "permission")
    Traceback (most recent call last):
    ...
    meshkit.exceptions.ValidationError: permission 'FLY' is no Lake Formation permission; ...
    """
    if not isinstance(permission, str):
        raise ValidationError(
            f"{field_name} must be a permission name such as 'SELECT', not {permission!r:.80}"
        )
    name = permission.upper()
    if name not in allowed:
        what = (
            "is a Lake Formation permission, but"
            if name in PERMISSIONS
            else "is no Lake Formation permission;"
        )
        raise ValidationError(
            f"{field_name} {permission!r:.40} {what} this resource takes only "
            f"{', '.join(allowed)} (Lake Formation permissions reference)"
        )
    return name


def _grants(grants: Iterable[LFGrant | Mapping[str, Any]]) -> list[LFGrant]:
    if isinstance(grants, (str, Mapping)) or not isinstance(grants, Iterable):
        raise ValidationError(
            "grants must be a list of ListPermissions entries (PrincipalResourcePermissions) or "
            f"LFGrant objects, not {type(grants).__name__}"
        )
    return [g if isinstance(g, LFGrant) else LFGrant.from_permission(g) for g in grants]


def _holds(permissions: Iterable[str], permission: str) -> bool:
    """ALL (Super) holds every permission of its resource."""
    found = set(permissions)
    return permission in found or "ALL" in found


def _matches(expression: Expression, tags: Mapping[str, LFTagValue]) -> bool:
    """AND across keys, OR across the values of a key; compared lower-cased, as Lake Formation
    stores keys and values."""
    lowered = {key.lower(): tag.value.lower() for key, tag in tags.items()}
    return all(key in lowered and lowered[key] in values for key, values in expression)


def _tags_text(tags: Mapping[str, LFTagValue]) -> str:
    if not tags:
        return "no LF-tags"
    return ", ".join(
        f"{key}={tag.value} (from the {tag.source})" for key, tag in sorted(tags.items())
    )


def _principal(principal: Any) -> str:
    if not isinstance(principal, str) or not principal.strip():
        raise ValidationError(
            "principal must be the DataLakePrincipalIdentifier: an IAM role or user ARN, e.g. "
            f"'arn:aws:iam::123456789012:role/analyst', or IAM_ALLOWED_PRINCIPALS; not "
            f"{principal!r:.80}"
        )
    return principal


# -- evaluation --------------------------------------------------------------------------------


class _Cover(NamedTuple):
    columns: frozenset[str]
    whole: bool  # every column, known or not
    why: str


def _cover(grant: LFGrant, tags: LFTableTags, permission: str) -> _Cover | str | None:
    """What ``grant`` gives ``permission`` on the table: a _Cover, why not (str), or None when
    the grant is about something else altogether."""
    every = frozenset(tags.columns)
    here = grant.database == tags.database and grant.table == tags.table
    if grant.kind == TABLE:
        if not here:
            return None
        if not _holds(grant.permissions, permission):
            return f"{grant.describe()}: grants {', '.join(grant.permissions)}, not {permission}"
        return _Cover(every, True, f"{grant.describe()} (a named grant on the table)")
    if grant.kind == ALL_TABLES:
        if grant.database != tags.database:
            return None
        if not _holds(grant.permissions, permission):
            return f"{grant.describe()}: grants {', '.join(grant.permissions)}, not {permission}"
        return _Cover(every, True, f"{grant.describe()} (a grant on all tables of the database)")
    if grant.kind == COLUMNS:
        if not here:
            return None
        if permission != "SELECT" or not _holds(grant.permissions, "SELECT"):
            return f"{grant.describe()}: a grant on columns gives SELECT only, not {permission}"
        if grant.column_names is not None:
            named = [c for c in tags.columns if c in grant.column_names] if every else []
            columns = frozenset(named) if every else frozenset(grant.column_names)
        else:
            columns = every - set(grant.excluded_columns)
        whole = bool(every) and columns == every
        if every and not columns:
            return f"{grant.describe()}: names none of the table's columns"
        return _Cover(columns, whole, f"{grant.describe()} (a named grant on columns)")
    if grant.kind == DATABASE:
        if grant.database != tags.database:
            return None
        return (
            f"{grant.describe()}: a grant on the database gives database permissions "
            f"({', '.join(DATABASE_PERMISSIONS)}), not {permission} on its tables"
        )
    if grant.kind == TAG_POLICY:
        text = expression_text(grant.expression)
        if grant.resource_type == "DATABASE":
            return (
                f"{grant.describe()}: ResourceType DATABASE gives database permissions on "
                f"matching databases, not {permission} on their tables"
            )
        if not tags.columns:  # no columns known: the table's own tags decide
            if not _matches(grant.expression, tags.effective()):
                return f"{grant.describe()}: the table has {_tags_text(tags.effective())}"
            if not _holds(grant.permissions, permission):
                return (
                    f"{grant.describe()}: grants {', '.join(grant.permissions)}, not {permission}"
                )
            return _Cover(frozenset(), True, f"{grant.describe()}: {_tags_text(tags.effective())}")
        matched = frozenset(
            c for c in tags.columns if _matches(grant.expression, tags.effective(c))
        )
        if not matched:
            return (
                f"{grant.describe()}: no column matches {text} (the table has "
                f"{_tags_text(tags.effective())})"
            )
        if matched == every:
            if not _holds(grant.permissions, permission):
                return (
                    f"{grant.describe()}: grants {', '.join(grant.permissions)}, not {permission}"
                )
            return _Cover(
                every, True, f"{grant.describe()}: the table has {_tags_text(tags.effective())}"
            )
        # Only some columns match: ALTER, DROP, INSERT, DELETE need the whole table (DESCRIBE
        # is granted instead) and ALL gives SELECT and DESCRIBE only (TBAC notes).
        granted = set(grant.permissions)
        partial = set()
        if granted & {"SELECT", "ALL"}:
            partial.add("SELECT")
        if granted & ({"DESCRIBE", "ALL"} | _WHOLE_TABLE_ONLY):
            partial.add("DESCRIBE")
        missed = [c for c in tags.columns if c not in matched]
        why_not = "; ".join(f"{c} has {_tags_text(tags.effective(c))}" for c in missed[:5])
        if permission not in partial:
            return (
                f"{grant.describe()}: matches only some columns, and on part of a table "
                f"Lake Formation grants {', '.join(sorted(partial)) or 'nothing of it'}, not "
                f"{permission} ({why_not})"
            )
        return _Cover(
            matched, False, f"{grant.describe()}: matches {len(matched)} of {len(every)} columns "
            f"(not {', '.join(missed)}: {why_not})",
        )  # fmt: skip
    return f"{grant.describe()}: meshkit does not evaluate a grant on {grant.other} (AWS does)"


def _iam_note(grants: Iterable[LFGrant]) -> str:
    if any(g.principal == IAM_ALLOWED_PRINCIPALS for g in grants):
        return (
            ". IAM_ALLOWED_PRINCIPALS holds it: Lake Formation leaves this resource to IAM, so "
            "every principal whose IAM policies allow reads it (revoke that grant to let Lake "
            "Formation decide)"
        )
    return ""


def evaluate_table_access(
    grants: Iterable[LFGrant | Mapping[str, Any]],
    tags: LFTableTags,
    principal: str,
    permission: str = "SELECT",
) -> LFAccessDecision:
    """Does ``principal`` hold ``permission`` on the table, on which columns, and why?

    Parameters
    ----------
    grants : iterable of ListPermissions entries or LFGrant
        Every stored grant (others' included: they are filtered here).
    tags : LFTableTags
        The tags assigned to the table, its database and its columns, and its column names.
    principal : str
        The principal asking: an IAM role or user ARN (or ``IAM_ALLOWED_PRINCIPALS``).
    permission : str, default "SELECT"
        One of ``TABLE_PERMISSIONS``; ``"DESCRIBE"`` asks whether the principal sees the table.

    Returns
    -------
    LFAccessDecision

    Raises
    ------
    meshkit.exceptions.ValidationError
        A permission Lake Formation does not grant on tables, a malformed grant or principal.

    Examples
    --------
    A table tagged ``classification=internal`` whose ``amount`` column is tagged
    ``confidential``: an ``internal`` grant reads every column but ``amount``.

    >>> import meshkit as mk
    >>> analyst = "arn:aws:iam::123456789012:role/analyst"
    >>> grants = [{"Principal": {"DataLakePrincipalIdentifier": analyst},
    ...            "Resource": {"LFTagPolicy": {"ResourceType": "TABLE", "Expression": [
    ...                {"TagKey": "classification", "TagValues": ["internal"]}]}},
    ...            "Permissions": ["SELECT"]}]
    >>> tags = mk.products.LFTableTags(
    ...     "sales", "sale_recorded", ("sale_id", "amount"),
    ...     on_table={"classification": "internal"},
    ...     on_columns={"amount": {"classification": "confidential"}},
    ... )
    >>> decision = mk.products.evaluate_table_access(grants, tags, analyst)
    >>> decision.allowed, decision.columns, decision.all_columns
    (True, ('sale_id',), False)
    """
    principal = _principal(principal)
    permission = check_permission(permission, TABLE_PERMISSIONS, "permission")
    if not isinstance(tags, LFTableTags):
        raise ValidationError(
            f"tags must be an LFTableTags (mk.products.LFTableTags), not {type(tags).__name__}"
        )
    mine = [g for g in _grants(grants) if g.principal in (principal, IAM_ALLOWED_PRINCIPALS)]
    covered: set[str] = set()
    whole = False
    deciding: list[LFGrant] = []
    because: list[str] = []
    not_matching: list[str] = []
    for grant in mine:
        result = _cover(grant, tags, permission)
        if isinstance(result, _Cover):
            deciding.append(grant)
            because.append(result.why)
            covered |= result.columns
            whole = whole or result.whole
        elif result is not None:
            not_matching.append(result)
    where = f"{tags.database}.{tags.table}"
    every = set(tags.columns)
    all_columns = whole or (bool(every) and covered >= every)
    if not deciding:
        reason = f"no grant gives {principal} {permission} on {where}"
        reason += f": {'; '.join(not_matching)}" if not_matching else " (it holds none on it)"
        return LFAccessDecision(
            False, principal, permission, tags.database, tags.table, (), False, (), reason
        )
    columns = tags.columns if all_columns else tuple(c for c in tags.columns if c in covered)
    scope = "every column" if all_columns else f"columns {', '.join(columns)}"
    reason = f"{permission} on {scope} of {where}, by {'; '.join(because)}" + _iam_note(deciding)
    return LFAccessDecision(
        True, principal, permission, tags.database, tags.table, columns, all_columns,
        tuple(deciding), reason,
    )  # fmt: skip


def evaluate_database_access(
    grants: Iterable[LFGrant | Mapping[str, Any]],
    database: str,
    on_database: Mapping[str, str],
    principal: str,
    permission: str = "DESCRIBE",
) -> LFAccessDecision:
    """Does ``principal`` hold ``permission`` on the database, and why?

    A named grant on the database, an LF-tag policy of ``ResourceType`` ``DATABASE`` matching
    the database's tags, or (``DESCRIBE`` only) a grant on all tables of the database.

    Parameters
    ----------
    grants : iterable of ListPermissions entries or LFGrant
    database : str
    on_database : dict of str -> str
        The LF-tags assigned to the database.
    principal : str
    permission : str, default "DESCRIBE"
        One of ``DATABASE_PERMISSIONS``.

    Returns
    -------
    LFAccessDecision
        With ``table`` None and no columns.

    Examples
    --------
    >>> import meshkit as mk
    >>> analyst = "arn:aws:iam::123456789012:role/analyst"
    >>> grants = [{"Principal": {"DataLakePrincipalIdentifier": analyst},
    ...            "Resource": {"Table": {"DatabaseName": "sales", "TableWildcard": {}}},
    ...            "Permissions": ["SELECT"]}]
    >>> bool(mk.products.evaluate_database_access(grants, "sales", {}, analyst))
    True
    """
    principal = _principal(principal)
    database = _text(database, "database")
    permission = check_permission(permission, DATABASE_PERMISSIONS, "permission")
    if not isinstance(on_database, Mapping):
        raise ValidationError(
            f"on_database must be a dict of LF-tag key -> value, not {type(on_database).__name__}"
        )
    tags = {key: LFTagValue(value, "database") for key, value in on_database.items()}
    deciding: list[LFGrant] = []
    because: list[str] = []
    not_matching: list[str] = []
    for grant in _grants(grants):
        if grant.principal not in (principal, IAM_ALLOWED_PRINCIPALS):
            continue
        if grant.kind == DATABASE and grant.database == database:
            if _holds(grant.permissions, permission):
                deciding.append(grant)
                because.append(f"{grant.describe()} (a named grant on the database)")
            else:
                not_matching.append(f"{grant.describe()}: not {permission}")
        elif grant.kind == TAG_POLICY and grant.resource_type == "DATABASE":
            if not _matches(grant.expression, tags):
                not_matching.append(f"{grant.describe()}: the database has {_tags_text(tags)}")
            elif not _holds(grant.permissions, permission):
                not_matching.append(f"{grant.describe()}: not {permission}")
            else:
                deciding.append(grant)
                because.append(f"{grant.describe()}: the database has {_tags_text(tags)}")
        elif grant.kind == ALL_TABLES and grant.database == database:
            if permission == "DESCRIBE":
                deciding.append(grant)
                because.append(
                    f"{grant.describe()} (a grant on all its tables implies DESCRIBE on it)"
                )
        elif grant.kind == TAG_POLICY:
            not_matching.append(
                f"{grant.describe()}: ResourceType TABLE gives table permissions, not "
                f"{permission} on databases"
            )
    if not deciding:
        reason = f"no grant gives {principal} {permission} on database {database}"
        reason += f": {'; '.join(not_matching)}" if not_matching else " (it holds none on it)"
        return LFAccessDecision(False, principal, permission, database, None, (), False, (), reason)
    reason = f"{permission} on database {database}, by {'; '.join(because)}" + _iam_note(deciding)
    return LFAccessDecision(
        True, principal, permission, database, None, (), False, tuple(deciding), reason
    )
