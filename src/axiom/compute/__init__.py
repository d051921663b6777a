"""The executor port and its adapters: local threads/processes and Ray."""
