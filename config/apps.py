from django.contrib.admin.apps import AdminConfig


class ProductAdminConfig(AdminConfig):
    """The Django admin, as the product's back office (see config.admin_site)."""

    default_site = "config.admin_site.ProductAdminSite"
