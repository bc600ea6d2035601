"""PUT/GET /api/v1/contacts/{id} and POST /api/v1/contacts/batch: the website keeps its
customers up to date without raising a trigger; a reporting tool reads them back."""

import yaml

from journeys.models import Consent, Contact, Segment, SegmentKind, SegmentMembership

URL = "/api/v1/contacts/"


def put(client, contact_id: str, body: dict):
    return client.put(f"{URL}{contact_id}", body, format="json")


def test_a_new_contact_is_created_with_its_fields_and_attributes(website):
    response = put(
        website,
        "cust-42",
        {"email": "ana@example.com", "first_name": "Ana", "time_zone": "Europe/Paris", "attributes": {"tier": "gold"}},
    )

    contact = Contact.objects.get()
    assert response.status_code == 201
    assert response.json() == {"id": "cust-42", "created": True, "changed": True}
    assert (contact.external_id, contact.email, contact.first_name, contact.time_zone) == (
        "cust-42",
        "ana@example.com",
        "Ana",
        "Europe/Paris",
    )
    assert contact.attributes == {"tier": "gold"}


def test_attributes_are_merged_and_null_removes_a_key(website):
    Contact.objects.create(external_id="cust-42", email="ana@example.com", attributes={"tier": "gold", "vip": True})

    response = put(website, "cust-42", {"attributes": {"vip": None, "points": 12}})

    contact = Contact.objects.get()
    assert response.status_code == 200
    assert response.json() == {"id": "cust-42", "created": False, "changed": True}
    assert contact.attributes == {"tier": "gold", "points": 12}
    assert contact.email == "ana@example.com"


def test_the_same_call_twice_changes_nothing_the_second_time(website):
    body = {"phone": "+15551234567", "attributes": {"tier": "gold"}}
    put(website, "cust-42", body)
    updated_at = Contact.objects.get().updated_at

    response = put(website, "cust-42", body)

    assert response.status_code == 200
    assert response.json() == {"id": "cust-42", "created": False, "changed": False}
    assert Contact.objects.get().updated_at == updated_at


def test_an_invalid_contact_is_refused_with_every_field_named_and_nothing_saved(website):
    response = put(website, "cust-42", {"email": "not-an-email", "phone": "0612", "time_zone": "Mars/Olympus"})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_contact"
    assert {(e["field"], e["code"]) for e in body["errors"]} == {
        ("email", "invalid_email"),
        ("phone", "invalid_phone"),
        ("time_zone", "invalid_time_zone"),
    }
    assert not Contact.objects.exists()


def test_an_id_in_the_body_must_match_the_path(website):
    response = put(website, "cust-42", {"id": "cust-43"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "id_mismatch"
    assert not Contact.objects.exists()


def test_unknown_fields_are_refused(website):
    response = put(website, "cust-42", {"nickname": "Ana"})

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "nickname", "code": "unknown_field", "message": response.json()["errors"][0]["message"]}
    ]


def test_writing_needs_the_events_write_scope_and_reading_the_read_scope(website, reporting, client):
    assert put(reporting, "cust-42", {"first_name": "Ana"}).status_code == 403
    assert client.put(f"{URL}cust-42", {}, content_type="application/json").status_code == 401
    assert not Contact.objects.exists()
    put(website, "cust-42", {"first_name": "Ana"})
    assert website.get(f"{URL}cust-42").status_code == 403
    assert reporting.get(f"{URL}cust-42").status_code == 200


def test_a_contact_reads_back_with_its_consent_and_segments(website, reporting):
    vip = Segment.objects.create(
        key="vip", name="VIP", conditions=[{"attribute": "contact.attributes.tier", "operator": "=", "value": "gold"}]
    )
    Segment.objects.create(key="staff", name="Staff", kind=SegmentKind.STATIC)
    put(website, "cust-42", {"email": "ana@example.com", "attributes": {"tier": "gold"}})
    contact = Contact.objects.get()
    Consent.objects.create(contact=contact, channel="email", status="unsubscribed", source="unsubscribe link")

    response = reporting.get(f"{URL}cust-42")

    body = response.json()
    assert response.status_code == 200
    assert body["id"] == "cust-42"
    assert body["email"] == "ana@example.com"
    assert body["attributes"] == {"tier": "gold"}
    assert body["consent"]["email"]["status"] == "unsubscribed"
    assert body["segments"] == ["vip"]
    assert SegmentMembership.objects.get().segment == vip


def test_an_unknown_contact_is_a_404(reporting, db):
    response = reporting.get(f"{URL}nobody")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_batch_saves_the_valid_contacts_and_names_the_rejected_ones(website):
    Contact.objects.create(external_id="cust-1", first_name="Bo")
    response = website.post(
        f"{URL}batch",
        {
            "contacts": [
                {"id": "cust-1", "first_name": "Bo"},
                {"id": "cust-2", "email": "nope"},
                {"id": "cust-3", "attributes": {"tier": "silver"}},
                {"email": "x@example.com"},
            ]
        },
        format="json",
    )

    body = response.json()
    assert response.status_code == 207
    assert (body["saved"], body["rejected"]) == (2, 2)
    assert [r["status"] for r in body["results"]] == ["unchanged", "rejected", "created", "rejected"]
    assert body["results"][1]["errors"][0]["field"] == "email"
    assert body["results"][3]["errors"][0]["field"] == "id"
    assert sorted(Contact.objects.values_list("external_id", flat=True)) == ["cust-1", "cust-3"]


def test_a_batch_over_500_contacts_is_refused_whole(website):
    response = website.post(f"{URL}batch", {"contacts": [{"id": f"c{i}"} for i in range(501)]}, format="json")

    assert response.status_code == 413
    assert not Contact.objects.exists()


def test_segment_identify_updates_the_same_contact(website, django_capture_on_commit_callbacks):
    put(website, "cust-42", {"email": "ana@example.com", "attributes": {"tier": "silver"}})

    with django_capture_on_commit_callbacks(execute=True):
        response = website.post(
            "/api/segment/v1/identify",
            {"userId": "cust-42", "traits": {"firstName": "Ana", "tier": "gold"}},
            format="json",
        )

    contact = Contact.objects.get()
    assert response.status_code == 200
    assert (contact.email, contact.first_name) == ("ana@example.com", "Ana")
    assert contact.attributes == {"tier": "gold"}


def test_the_schema_describes_the_contacts_api(client, db):
    schema = yaml.safe_load(client.get("/api/schema/").content)

    assert {"put", "get"} <= set(schema["paths"]["/api/v1/contacts/{external_id}"])
    assert "post" in schema["paths"]["/api/v1/contacts/batch"]
