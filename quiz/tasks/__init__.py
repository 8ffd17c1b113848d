"""The task queue (Huey): background exports, agent imports and webhook deliveries."""
