DROP TABLE server_events;
