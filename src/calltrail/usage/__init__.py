"""Usage analytics, pure: periods and buckets in IANA time zones, the query-string grammar of
``/api/usage/*``, and the definitions of every figure (what a call contributes to a bucket).

No I/O: :mod:`calltrail.store.usage` keeps the pre-computed figures and answers the queries;
the API and the tests share these definitions.
"""
