"""Export formats: call records out as files, streamed in constant memory.

Pure: no I/O. A format turns an iterable of records (the JSON objects the list endpoints return)
into chunks of bytes; :mod:`calltrail.exports.registry` lists the formats by name.
"""
