"""Reading what runs print (PROTOCOL.md): pure functions, no I/O."""
