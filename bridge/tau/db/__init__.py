"""PostgreSQL: loading the installation, write-behind of state, LISTEN, migrations."""
