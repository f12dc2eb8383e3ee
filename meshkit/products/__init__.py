"""Data products: the data half of the mesh, catalogued in Glue and governed by Lake Formation.

A domain's data product has two output ports: its events on the domain's bus, and a dataset that
a landing consumer writes as Parquet to S3 and keeps current in the Glue Data Catalog. Every name
below is imported from ``meshkit.products`` (``mk.products.create_data_product``); the modules say
where each concern lives:

==================================  ============================================================
``meshkit.products.descriptor``     the ``DataProduct`` descriptor, stored as its Glue table's
                                    parameters and tags; create, read, delete; discovery
                                    (``list_data_products``)
==================================  ============================================================
"""

from __future__ import annotations

from .descriptor import (
    CLASSIFICATIONS,
    Column,
    DataProduct,
    DataProductNotFoundError,
    DatasetPort,
    EventPort,
    UnknownDetailTypeError,
    create_data_product,
    define_data_product,
    delete_data_product,
    get_data_product,
    list_data_products,
    product_bucket,
)

__all__ = [
    "CLASSIFICATIONS",
    "Column",
    "DataProduct",
    "DataProductNotFoundError",
    "DatasetPort",
    "EventPort",
    "UnknownDetailTypeError",
    "create_data_product",
    "define_data_product",
    "delete_data_product",
    "get_data_product",
    "list_data_products",
    "product_bucket",
]
