"""Telephony call records in Bird's Voice API shape (spec file 004).

Pure domain code, no I/O:

* :mod:`~calltrail.voice.vocabulary`: enumerations, identifier rules and the call lifecycle;
* :mod:`~calltrail.voice.fields`: validation of the record fields, shared by whole records
  (``PUT``) and status events;
* :mod:`~calltrail.voice.record`: whole-record validation and the row that indexes a record;
* :mod:`~calltrail.voice.events`: status events and their validation;
* :mod:`~calltrail.voice.fold`: folding a call's status events into its record;
* :mod:`~calltrail.voice.query`: which calls a list request wants;
* :mod:`~calltrail.voice.filters`: the list endpoints' query-string grammar;
* :mod:`~calltrail.voice.demo`: a deterministic generator of realistic calls.
"""
