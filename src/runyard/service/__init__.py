"""Service functions: the business rules between the API and the store.

Route handlers and the daemon's loops call these; they run on the daemon's event loop
thread, so no two of them ever interleave inside a database transaction.
"""
