"""The ``rdpconsole`` command line: one module per subcommand group."""
