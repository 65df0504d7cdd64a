DROP TRIGGER service_events_webhooks ON service_events;
DROP TRIGGER deployment_events_webhooks ON deployment_events;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
DROP FUNCTION convoy_webhook_service_event();
DROP FUNCTION convoy_webhook_deployment_event();
DROP FUNCTION convoy_webhook_queue(text, text, uuid, text, timestamptz, jsonb);
DROP FUNCTION convoy_webhook_matches(text[], text);
