"""wirehouse: the command line and the bundled offline sample newsroom."""
