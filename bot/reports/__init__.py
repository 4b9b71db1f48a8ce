"""Staff reports over the conversation database: knowledge gaps, statistics, chart, CSV export."""
