"""Exit 0 when the Kafka broker at argv[1] answers a metadata request, else 1.

Run by deploy/local/kafka.sh while it waits for a start to finish.
"""

import sys

from confluent_kafka.admin import AdminClient

admin = AdminClient({"bootstrap.servers": sys.argv[1], "log_level": 0})
try:
    metadata = admin.list_topics(timeout=3)
except Exception:  # any failure means "not ready yet"
    sys.exit(1)
sys.exit(0 if metadata.brokers else 1)
