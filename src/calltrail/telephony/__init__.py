"""Telephony call records in Bird's Voice API shape (spec file 004).

Pure domain code, no I/O:

* :mod:`~calltrail.telephony.vocabulary`: enumerations, identifier rules and the call lifecycle;
* :mod:`~calltrail.telephony.fields`: validation of the record fields, shared by whole records
  (``PUT``) and status events;
* :mod:`~calltrail.telephony.record`: whole-record validation and the row that indexes a record;
* :mod:`~calltrail.telephony.events`: status events and their validation;
* :mod:`~calltrail.telephony.fold`: folding a call's status events into its record;
* :mod:`~calltrail.telephony.query`: which calls a list request wants;
* :mod:`~calltrail.telephony.filters`: the list endpoints' query-string grammar;
* :mod:`~calltrail.telephony.page_token`: opaque, tamper-evident keyset cursors;
* :mod:`~calltrail.telephony.demo`: a deterministic generator of realistic calls.
"""
