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


WRITE_OPERATIONS = [
    "/api/v1/events",
    "/api/v1/events/batch",
    "/api/segment/v1/track",
    "/api/segment/v1/identify",
    "/api/segment/v1/batch",
    "/api/v1/contacts/{contact_id}/consent",
]


def test_write_operations_advertise_only_the_json_body_they_take(client, db):
    schema = yaml.safe_load(client.get("/api/schema/").content)

    for path in WRITE_OPERATIONS:
        assert list(schema["paths"][path]["post"]["requestBody"]["content"]) == ["application/json"], path


def test_read_operations_document_their_errors_in_the_api_shape(client, db):
    schema = yaml.safe_load(client.get("/api/schema/").content)

    for path in ["/api/v1/participants/", "/api/v1/journeys/{key}/analytics"]:
        responses = schema["paths"][path]["get"]["responses"]
        assert {"400", "401", "403", "404"} <= set(responses), path
        assert responses["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")


def test_read_apis_answer_errors_as_code_and_message(client, db):
    from rest_framework.test import APIClient

    from triggers.keys import create_api_key

    _, raw = create_api_key("Website", scope="events:write")
    website = APIClient()
    website.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    unauthenticated = client.get("/api/v1/participants/")
    wrong_scope = website.get("/api/v1/participants/")
    no_route = client.get("/api/v1/nothing/here")
    bad_page_size = APIClient()
    bad_page_size.credentials(HTTP_AUTHORIZATION=f"Bearer {create_api_key('Reports', scope='read')[1]}")

    assert (unauthenticated.status_code, unauthenticated.json()["code"]) == (401, "not_authenticated")
    assert (wrong_scope.status_code, wrong_scope.json()["code"]) == (403, "permission_denied")
    assert (no_route.status_code, no_route.json()) == (404, {"code": "not_found", "message": "No such resource."})
    answer = bad_page_size.get("/api/v1/participants/", {"page_size": "abc"})
    assert (answer.status_code, [e["field"] for e in answer.json()["errors"]]) == (400, ["page_size"])


def test_the_docs_page_loads_a_pinned_swagger_ui_from_this_site(client, db):
    page = client.get("/api/docs/").content.decode()

    assert "cdn.jsdelivr.net" not in page and "@latest" not in page
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
