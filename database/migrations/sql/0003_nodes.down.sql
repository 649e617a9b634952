-- Undo revision 0003_nodes: several bridges' bookkeeping (nothing of the installation).
DROP TABLE bridge_leases;
DROP TABLE bridge_nodes;
