"""Request, query and response schemas, written by hand (never derived from tables): one module per
area of the API, shared fields, validators and field types in ``common``.

Unknown fields are rejected everywhere (marshmallow's default RAISE); every number has a range and
every string and list a length limit.
"""
