-- Undo revision 0007_identity_rooms: the installation id, the objects' uids, rooms.
ALTER TABLE groups DROP COLUMN is_room;
ALTER TABLE switches DROP COLUMN uid;
ALTER TABLE scenes DROP COLUMN uid;
ALTER TABLE groups DROP COLUMN uid;
ALTER TABLE fixtures DROP COLUMN uid;
DROP TABLE installation;
