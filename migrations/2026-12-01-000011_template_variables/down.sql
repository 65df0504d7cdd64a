ALTER TABLE templates DROP COLUMN variables;
