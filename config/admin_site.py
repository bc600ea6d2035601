from django.contrib import admin


class ProductAdminSite(admin.AdminSite):
    """The back office marketers and analysts use: journeys first, plumbing last."""

    site_header = "Journeys"
    site_title = "Journeys"
    index_title = "Trigger-based customer journeys"
    enable_nav_sidebar = True

    # The order marketers work in: what to send, what starts it, the journeys, then access.
    app_order = ["journeys", "content", "triggers", "auth", "django_q"]

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        rank = {label: i for i, label in enumerate(self.app_order)}
        return sorted(apps, key=lambda app: rank.get(app["app_label"], len(rank)))
