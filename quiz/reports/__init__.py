"""Statistics for the dashboard: aggregates, funnel counters, SVG charts."""
