"""The HTTP edge: guards, transport, headers, CORS, body limits, schemas."""
