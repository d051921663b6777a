"""The event log: the port, its adapters and the message envelope."""
