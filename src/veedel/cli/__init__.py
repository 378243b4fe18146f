"""The ``veedel`` command line: a thin layer over the products' libraries."""
