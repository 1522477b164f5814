"""Outbound webhooks, pure: which change raises which event, Standard Webhooks signing, the
retry schedule, subscription rules and the guard against server-side request forgery.

No I/O except :mod:`calltrail.outbound.guard`'s name resolution, which callers run off the
event loop. Storage is :mod:`calltrail.store.outbox`; sending is :mod:`calltrail.jobs.deliverer`.
"""
