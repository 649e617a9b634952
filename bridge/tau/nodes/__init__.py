"""Several bridges sharing one installation: leases, leadership (README "Several bridges")."""
