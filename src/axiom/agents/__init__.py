"""Company-graph extraction: extractors turn company data into graph mutations."""
