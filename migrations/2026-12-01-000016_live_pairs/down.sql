DROP TRIGGER live_pairs_event ON deployment_events;
DROP TRIGGER live_pairs_deployment ON deployments;
DROP TRIGGER live_pairs_target_update ON deployment_targets;
DROP TRIGGER live_pairs_target_insert ON deployment_targets;
DROP FUNCTION live_pairs_event();
DROP FUNCTION live_pairs_deployment();
DROP FUNCTION live_pairs_target();
DROP FUNCTION live_pair_refresh(text, text, text, uuid, text);
DROP TABLE live_pairs;
