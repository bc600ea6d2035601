"""The API is described at /api/schema/ (OpenAPI) and browsable at /api/docs/."""

import yaml


def test_the_schema_describes_every_ingest_endpoint_and_the_key_auth(client, db):
    response = client.get("/api/schema/")

    schema = yaml.safe_load(response.content)
    assert response.status_code == 200
    for path in [
        "/api/v1/events",
        "/api/v1/events/batch",
        "/api/segment/v1/track",
        "/api/segment/v1/identify",
        "/api/segment/v1/batch",
    ]:
        assert "post" in schema["paths"][path], path
    assert schema["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key from the admin (API keys) or `manage.py create_api_key`.",
    }
    event = schema["components"]["schemas"]["Event"]
    assert event["required"] == ["contact", "trigger"]
    assert set(schema["paths"]["/api/v1/events"]["post"]["responses"]) >= {"202", "400", "401", "409", "413", "429"}


def test_the_docs_page_answers(client, db):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert b"/api/schema/" in response.content
