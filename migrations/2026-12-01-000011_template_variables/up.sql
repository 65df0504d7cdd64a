-- The variables an org's template declares (a JSON list of {name, type, required, default,
-- description, secret}); NULL for a row saved before variables existed, whose variables
-- are inferred from its source when read. Built-ins declare theirs in templates/*.vars.yml.
ALTER TABLE templates ADD COLUMN variables JSONB;
