"""One module per `fakenews` sub-command."""
