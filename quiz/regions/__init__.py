"""Administrative regions: division table, address parser, postal check, bulk locate."""
