"""Inbound adapters: a calling stack's own webhook payloads turned into Calltrail's native events.

Pure: no I/O. Each provider is one module exposing an :class:`~calltrail.adapters.base.Adapter`;
:mod:`calltrail.adapters.registry` lists them. Adapters verify and translate; they own no storage:
what they return is ingested through the one event-log engine, exactly like ``POST`` of native
events, so idempotency and order-independence hold for every provider alike.
"""
