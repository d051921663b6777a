"""The executor port and its adapters (local threads/processes; Ray in a later change)."""
