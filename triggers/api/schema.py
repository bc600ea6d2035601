"""How the API keys appear in the OpenAPI schema (drf-spectacular extensions)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "triggers.api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key from the admin (API keys) or `manage.py create_api_key`.",
        }


class SegmentWriteKeyScheme(OpenApiAuthenticationExtension):
    target_class = "triggers.api.authentication.SegmentWriteKeyAuthentication"
    name = "segmentWriteKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "basic", "description": "The API key as user name, no password."}
