"""The `quiz` command line: one module per topic, registered in one place."""
